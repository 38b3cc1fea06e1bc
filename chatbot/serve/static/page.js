/* The chat page's behaviour on top of Gradio's chat component (loaded in the page's <head>).
 * - A new question comes to the top of the view, with room below it for the answer, wherever
 *   the reader had scrolled; an alert's headline is kept on screen when it arrives.
 * - Screen readers hear the answer in a polite status region (alerts announce themselves):
 *   the chat log is not a live region, so the red flags and disclaimer are not read out after
 *   every reply, and each message is named briefly, not by its raw source.
 */
(() => {
  "use strict";
  let expecting = false, users = 0, finished = 0, pinned = -1, status = null;

  function start() {
    status = document.createElement("div");
    status.setAttribute("role", "status");
    status.setAttribute("aria-live", "polite");
    status.id = "reply-status";
    status.style.cssText = "position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%);white-space:nowrap";
    document.body.append(status);
    // What sends a question: Enter in the box, the Send button, an example question.
    document.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.target.closest?.("#box")) expecting = true;
    }, true);
    document.addEventListener("click", (e) => {
      if (e.target.closest?.("#send, #chat .example, #chat button[class*=example]")) expecting = true;
    }, true);
    new MutationObserver(update).observe(document.body, {
      childList: true, subtree: true, characterData: true, attributes: true, attributeFilter: ["aria-label", "aria-live"],
    });
    update();
  }

  function set(el, name, value) {
    if (el.getAttribute(name) !== value) el.setAttribute(name, value);
  }

  function update() {
    const chat = document.getElementById("chat");
    const log = chat?.querySelector("[role=log]");
    if (!log) return;
    set(log, "aria-live", "off");
    for (const el of chat.querySelectorAll("[data-testid=user], [data-testid=bot]")) {
      set(el, "role", "article");
      set(el, "aria-label", el.dataset.testid === "user" ? "You said" : "Answer");
    }
    // Gradio marks the example questions up as a list of buttons, which is no list.
    const examples = chat.querySelector(".examples[role=list]");
    if (examples) { set(examples, "role", "group"); set(examples, "aria-label", "Example questions"); }
    const clear = chat.querySelector("button[aria-label=Clear]");
    if (clear) { set(clear, "aria-label", "Clear conversation"); set(clear, "title", "Clear conversation"); }

    const questions = log.querySelectorAll("[data-testid=user]");
    if (questions.length !== users) {
      if (questions.length > users && expecting) pinned = questions.length - 1;
      else if (questions.length > users) log.scrollTop = log.scrollHeight; // a kept conversation: show its end
      else pinned = -1;
      users = questions.length;
    }
    if (pinned >= 0 && questions[pinned]) pin(log, questions[pinned].closest(".message-row") || questions[pinned]);

    const done = log.querySelectorAll("[data-testid=bot]:has(.disclaimer)");
    if (done.length !== finished) {
      if (done.length > finished && expecting) arrived(log, done[done.length - 1]);
      finished = done.length;
    }
  }

  // The question at the top of the chat, with room below it for the answer to come.
  function pin(log, row) {
    const wrap = log.querySelector(".message-wrap") || log.firstElementChild;
    const top = row.getBoundingClientRect().top - log.getBoundingClientRect().top + log.scrollTop;
    const padding = parseFloat(wrap.style.paddingBottom) || 0;
    const room = Math.max(0, Math.ceil(log.clientHeight - (log.scrollHeight - padding - top)));
    if (Math.abs(room - padding) > 1) wrap.style.paddingBottom = room + "px";
    if (Math.abs(log.scrollTop - (top - 8)) > 1) log.scrollTop = top - 8;
    const box = log.getBoundingClientRect();
    if (box.top < 0 || box.bottom > innerHeight) scrollBy(0, row.getBoundingClientRect().top - 8);
  }

  function arrived(log, reply) {
    expecting = false;
    const alert = reply.querySelector(".alert");
    if (alert) {
      const headline = (alert.querySelector("strong") || alert).getBoundingClientRect();
      if (headline.top < 0 || headline.bottom > innerHeight) {
        pinned = -1;
        alert.scrollIntoView({ block: "start" });
      }
    }
    const answer = [...reply.querySelectorAll(".notice, .answer-body")].map((el) => el.textContent.trim()).join(" ");
    // Said once; the alert announces itself (role=alert), the footer is there to read on demand.
    status.textContent = answer ? "Answer: " + answer : "";
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
