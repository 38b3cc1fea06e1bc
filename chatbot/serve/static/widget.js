/* Clinic website chat widget: answers from the clinic's patient-education articles. One tag adds it:
 *   <script src="https://BOT-HOST/widget.js" data-title data-color data-greeting
 *           data-position="right|left" data-api (optional) async></script>
 * data-mode="inline" shows it open and full page (the /embed page).
 * data-strings='{"send": "Enviar", ...}' replaces the widget's own words (see STRINGS), and
 * data-dir="rtl" (or "dir" in those strings, or the page's own dir) lays it out right to left.
 * An open Shadow DOM keeps page CSS out and ours in (closed would hide nothing from page scripts).
 * The only global is window.AnkleChat. Server and visitor text only ever become text nodes.
 */
(() => {
  "use strict";

  // Filled in by the server when it serves this file; null when the file is used as is.
  const SERVER = /*@server-config*/null;

  if (window.AnkleChat) return; // the snippet was pasted twice

  const script = document.currentScript || document.querySelector('script[src*="widget.js"]');
  const data = script?.dataset || {};
  const server = {
    greeting: "Hi! Ask me a question.",
    disclaimer: "General information only, not medical advice.",
    redFlagHeading: "See a doctor if you have:",
    redFlags: [],
    starters: [],
    maxMessageChars: 2000,
    maxHistoryTurns: 20,
    maxHistoryBytes: 16384,
    ...SERVER,
  };
  const inline = data.mode === "inline";

  // The widget's own words; a clinic replaces any of them with data-strings (JSON).
  const STRINGS = {
    title: "Ask about ankle pain", open: "Open chat", close: "Close chat", clear: "Clear conversation",
    send: "Send", input: "Your question", placeholder: "Type your question", examples: "Example questions",
    you: "You: ", answer: "Answer: ", writing: "Writing an answer", sources: "Sources", source: "Source",
    emergency: "Emergency", urgent: "Urgent", described: "You described:", rate: "Was this answer helpful?",
    helpful: "Helpful", unhelpful: "Not helpful", thanks: "Thanks for your feedback.",
    voteFailed: "Couldn't send that. Try again?", retry: "Try again", retryIn: "Try again in {s} s",
    network: "Can't reach the chat service. Check your connection and try again.",
    server: "Something went wrong on our side. Please try again.",
    cut: "The answer was cut off. Please try again.",
    busy: "Too many questions right now. Please wait a moment and try again.",
    request: "That message couldn't be sent.",
    dir: "",
  };
  const T = (() => {
    let custom = {};
    try { custom = JSON.parse(data.strings || "{}"); } catch { /* a broken attribute: our own words */ }
    const out = { ...STRINGS };
    for (const key of Object.keys(STRINGS)) if (typeof custom?.[key] === "string") out[key] = custom[key];
    return out;
  })();
  const title = data.title || T.title;
  const dir = [data.dir, T.dir, document.documentElement.dir].find((d) => d === "rtl" || d === "ltr") || "ltr";
  const fill = (text, values) => text.replace(/\{(\w+)\}/g, (_, k) => values[k] ?? "");

  // The API lives where this file came from, unless data-api says otherwise.
  const api = (() => {
    if (data.api) return data.api.replace(/\/+$/, "");
    const src = new URL(script?.src || "/", location.href);
    return src.origin + src.pathname.replace(/\/[^/]*$/, "");
  })();
  const STORE_KEY = "ankle-chat:" + api;

  // --- DOM helpers: strings always become text nodes
  function h(tag, props, ...kids) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value == null || value === false) continue;
      if (key === "class") el.className = value;
      else if (key === "text") el.textContent = value;
      else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
      else el.setAttribute(key, value === true ? "" : value);
    }
    el.append(...kids.flat().filter((k) => k != null && k !== ""));
    return el;
  }

  const ICONS = {
    chat: "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z",
    close: "M6 6l12 12M18 6L6 18",
    clear: "M4 7h16M9 7V4h6v3M6 7l1 13h10l1-13",
    warn: "M12 3l10 18H2L12 3zm0 6v5m0 3v.5",
    flag: "M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18zM12 7.5v6M12 16.5v.5",
    thumb: "M7 11l4-9a3 3 0 0 1 3 3v4h5.5a2 2 0 0 1 2 2.3l-1.3 9a2 2 0 0 1-2 1.7H7zM7 11H4a2 2 0 0 0-2 2v7a2 2 0 0 0 2 2h3",
  };
  function icon(name) {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    const path = document.createElementNS(ns, "path");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    path.setAttribute("d", ICONS[name]);
    svg.append(path);
    return svg;
  }

  // --- colours: readable text on the clinic's colour, and a darker "ink" shade of it for
  // text and focus rings on white (WCAG AA 4.5:1)
  const channel = (v) => (v / 255 <= 0.03928 ? v / 255 / 12.92 : ((v / 255 + 0.055) / 1.055) ** 2.4);
  const luminance = ([r, g, b]) => 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  const contrast = (a, b) => {
    const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
    return (x + 0.05) / (y + 0.05);
  };
  function parseColor(value, root) {
    const probe = h("i");
    probe.style.color = value;
    if (!probe.style.color) return null;
    root.append(probe); // computed colours need an element in the document
    const parts = getComputedStyle(probe).color.match(/[\d.]+/g);
    probe.remove();
    return parts && !(parts.length > 3 && +parts[3] === 0) ? parts.slice(0, 3).map(Number) : null;
  }
  function palette(root) {
    const white = [255, 255, 255], css = (c) => `rgb(${c.map(Math.round)})`;
    const brand = parseColor(data.color || "#0b6e4f", root) || [11, 110, 79];
    let ink = brand;
    for (let i = 0; i < 20 && contrast(ink, white) < 4.5; i++) ink = ink.map((v) => v * 0.88);
    root.style.setProperty("--brand", css(brand));
    root.style.setProperty("--on-brand", contrast(brand, white) >= contrast(brand, [0, 0, 0]) ? "#fff" : "#000");
    root.style.setProperty("--ink", css(ink));
  }

  // --- the reply Markdown subset: paragraphs, "- " lists, **bold**, _italic_, "---", [n]
  function markdown(md, marker) {
    const frag = document.createDocumentFragment();
    let para = null, list = null;
    for (const raw of md.split(/\r?\n/)) {
      const line = raw.trim(), item = /^[-*+]\s+(.*)$/.exec(line);
      if (!line || /^(-{3,}|\*{3,}|_{3,})$/.test(line)) {
        if (line) frag.append(h("hr"));
        para = list = null;
      } else if (item) {
        if (!list) frag.append((list = h("ul")));
        list.append(h("li", null, inlines(item[1], marker)));
        para = null;
      } else {
        if (para) para.append(h("br"));
        else frag.append((para = h("p")));
        para.append(...inlines(line, marker));
        list = null;
      }
    }
    return frag;
  }
  function inlines(text, marker) {
    const re = /\*\*(.+?)\*\*|(^|[\s(])_(.+?)_(?=$|[\s).,;:!?])|\[(\d+)\]/g;
    const out = [];
    let last = 0, m;
    while ((m = re.exec(text))) {
      out.push(text.slice(last, m.index + (m[2] || "").length));
      if (m[1] != null) out.push(h("strong", null, inlines(m[1], marker)));
      else if (m[3] != null) out.push(h("em", null, inlines(m[3], marker)));
      else out.push(marker ? marker(+m[4]) : `[${m[4]}]`);
      last = re.lastIndex;
    }
    out.push(text.slice(last));
    return out.filter((x) => x !== "");
  }

  // A reply's parts come as fields. An older server sends only `answer` with a footer
  // ("---", red flags, disclaimer) after the body: that is cut off and drawn apart.
  const bodyOf = (reply) => (typeof reply.body === "string" ? reply.body : splitFooter(reply.answer).body);
  function splitFooter(md) {
    const lines = md.split("\n");
    for (let i = lines.length - 1; i >= 0; i--) {
      if (/^\s*-{3,}\s*$/.test(lines[i])) return { body: lines.slice(0, i).join("\n"), tail: lines.slice(i + 1).join("\n") };
    }
    return { body: md, tail: "" };
  }

  // --- the conversation, kept for the tab's lifetime (sessionStorage)
  const valid = (m) => m && (m.role === "user" ? typeof m.text === "string" : typeof m?.reply?.answer === "string");
  const state = (() => {
    try {
      const saved = JSON.parse(sessionStorage.getItem(STORE_KEY));
      if (Array.isArray(saved?.msgs)) return { open: !!saved.open, msgs: saved.msgs.filter(valid) };
    } catch { /* storage blocked or damaged: start afresh */ }
    return { open: false, msgs: [] };
  })();
  function save() {
    try {
      sessionStorage.setItem(STORE_KEY, JSON.stringify({ open: state.open, msgs: state.msgs.slice(-60) }));
    } catch { /* storage blocked: this page view only */ }
  }

  // The newest turns within the API's limits (UTF-8 bytes, as the server counts), no footers.
  function history() {
    const turns = state.msgs.map((m) => m.role === "user"
      ? { role: "user", content: m.text }
      : { role: "assistant", content: bodyOf(m.reply).trim() }).slice(-server.maxHistoryTurns);
    const encoder = new TextEncoder();
    const size = () => turns.reduce((sum, t) => sum + encoder.encode(t.content).length, 0);
    while (turns.length && size() > server.maxHistoryBytes) turns.shift();
    return turns;
  }

  // --- the API: POST, then Server-Sent Events read from the response body
  class Failure extends Error {
    constructor(kind, detail = {}) {
      super(kind);
      Object.assign(this, { kind, detail });
    }
  }

  async function streamReply(message, onText, signal) {
    let res, text = "", reply = null, id = null, buffer = "", carry = "";
    const guard = (err) => { throw signal.aborted ? err : new Failure("network"); };
    try {
      res = await fetch(api + "/api/chat/stream", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
        body: JSON.stringify({ message, history: history() }),
        credentials: "omit",
        signal,
      });
    } catch (err) { guard(err); }
    if (!res.ok) {
      const error = (await res.json().catch(() => ({})))?.error || {};
      const kind = res.status === 429 ? "busy" : res.status >= 500 ? "server" : "request";
      throw new Failure(kind, { message: error.message, wait: retryAfter(res.headers.get("Retry-After")) });
    }

    function handle(block) {
      let event = "message";
      const lines = [];
      for (const line of block.split("\n")) {
        const colon = line.indexOf(":");
        if (colon === 0 || !line) continue; // comment or nothing
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") event = value;
        else if (field === "data") lines.push(value);
      }
      let payload;
      try { payload = JSON.parse(lines.join("\n")); } catch { return; }
      if (event === "delta" && typeof payload.text === "string") onText((text += payload.text));
      else if (event === "reply") reply = payload;
      else if (event === "meta") id = payload.message_id;
      else if (event === "error") throw new Failure("server", { message: payload?.error?.message });
    }
    // Events end at a blank line; a "\r" at the end of a read may pair with the next "\n".
    function feed(piece) {
      piece = carry + piece;
      carry = piece.endsWith("\r") ? "\r" : "";
      buffer += (carry ? piece.slice(0, -1) : piece).replace(/\r\n?/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        handle(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
      }
    }

    const reader = res.body.getReader(), decoder = new TextDecoder();
    for (;;) {
      let chunk;
      try { chunk = await reader.read(); } catch (err) { guard(err); }
      if (chunk.done) break;
      feed(decoder.decode(chunk.value, { stream: true }));
    }
    feed(decoder.decode() + "\n\n");
    if (typeof reply?.answer !== "string") throw new Failure("cut");
    return typeof id === "string" ? { ...reply, message_id: id } : reply;
  }

  // Retry-After is seconds or an HTTP date.
  function retryAfter(value) {
    if (!value) return 0;
    const s = /^\s*\d+\s*$/.test(value) ? +value : (Date.parse(value) - Date.now()) / 1000;
    return isFinite(s) ? Math.min(Math.max(Math.ceil(s), 1), 600) : 0;
  }

  // --- the UI
  let host, root, launcher, panel, log, intro, starters, errorBox, input, sendButton, clearButton, status, spacer;
  let busy = false, controller = null, countdown = null;
  const phone = matchMedia("(max-width: 520px)");

  function build() {
    host = document.createElement("ankle-chat-widget");
    // Inline !important beats any page rule, so the page cannot hide or reshape the host.
    host.style.cssText = "all:initial!important;display:block!important;position:fixed!important;top:0!important;" +
      "left:0!important;width:0!important;height:0!important;z-index:2147483000!important;visibility:visible!important";
    const shadow = host.attachShadow({ mode: "open" });
    addStyles(shadow);
    root = h("div", { class: "root" + (data.position === "left" ? " left" : "") + (inline ? " inline" : ""), dir });
    shadow.append(root);

    launcher = h("button", {
      type: "button", class: "launcher", "aria-expanded": "false", "aria-controls": "chat-panel",
      onclick: () => (panel.hidden ? open(true) : close()),
    }, icon("chat"), h("span", { text: title }));
    const iconButton = (label, name, onclick) =>
      h("button", { type: "button", class: "icon", "aria-label": label, title: label, onclick }, icon(name));
    clearButton = iconButton(T.clear, "clear", clear);

    // Not a live region: replies are announced by `status` (the answer) and their own alert,
    // so the red flags and disclaimer are not read out after every reply.
    log = h("div", { class: "log", role: "log", "aria-live": "off", "aria-labelledby": "chat-title", tabindex: "0" });
    status = h("div", { class: "sr-only", role: "status", "aria-live": "polite" });
    spacer = h("div", { class: "spacer", "aria-hidden": "true" });
    intro = h("div", { class: "intro" },
      h("p", { text: data.greeting || server.greeting }),
      h("p", { class: "disclaimer", text: server.disclaimer }));
    starters = h("div", { class: "starters", role: "group", "aria-label": T.examples },
      server.starters.map((q) => h("button", { type: "button", text: q, onclick: () => send(q) })));
    errorBox = h("div", { class: "error", role: "alert", hidden: true });

    input = h("textarea", {
      id: "chat-input", rows: "2", maxlength: String(server.maxMessageChars), placeholder: T.placeholder,
      oninput: grow,
      onkeydown: (e) => {
        // Enter sends, Shift+Enter adds a line; not while an input method is composing.
        if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
          e.preventDefault();
          send(input.value);
        }
      },
    });
    sendButton = h("button", { type: "submit", class: "send", text: T.send });
    const form = h("form", { class: "composer", onsubmit: (e) => { e.preventDefault(); send(input.value); } },
      h("label", { for: "chat-input", class: "sr-only", text: T.input }), input, sendButton);

    panel = h("section", {
      // Inline, the chat is the whole page (/embed): its main landmark, with the page's h1.
      id: "chat-panel", class: "panel", role: inline ? "main" : "dialog", "aria-labelledby": "chat-title", hidden: !inline,
    }, h("div", { class: "head" }, h(inline ? "h1" : "h2", { id: "chat-title", text: title }), clearButton,
      inline ? null : iconButton(T.close, "close", close)), log, errorBox, form, status);
    root.append(inline ? "" : launcher, panel);
    root.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && !inline && !panel.hidden && !e.isComposing) { e.preventDefault(); close(); }
      // Full screen on a phone the panel is modal: Tab cycles inside it.
      if (e.key === "Tab" && !inline && !panel.hidden && phone.matches) {
        const items = [...panel.querySelectorAll("button:not([disabled]),textarea,summary,[tabindex='0']")]
          .filter((el) => el.getClientRects().length);
        const active = root.getRootNode().activeElement, first = items[0], last = items.at(-1);
        if (e.shiftKey ? active === first : active === last) { e.preventDefault(); (e.shiftKey ? last : first).focus(); }
      }
    });

    renderAll();
    document.body.append(host);
    palette(root);
    window.visualViewport?.addEventListener("resize", fitViewport);
    window.visualViewport?.addEventListener("scroll", fitViewport);
    phone.addEventListener?.("change", fitViewport);
    if (inline || state.open) open(inline);
  }

  // The launcher says what it does: open the chat, or close it while it is open.
  function launcherShows(isOpen) {
    launcher.setAttribute("aria-expanded", String(isOpen));
    launcher.replaceChildren(icon(isOpen ? "close" : "chat"), h("span", { text: isOpen ? T.close : title }));
    launcher.classList.toggle("opened", isOpen);
  }

  // The text box grows with what is typed, up to its maximum height.
  function grow() {
    input.style.height = "auto";
    input.style.height = input.scrollHeight + 2 + "px";
  }

  function open(focus) {
    panel.hidden = false;
    launcherShows(true);
    if (!inline) { state.open = true; save(); }
    fitViewport();
    scrollDown(true);
    if (focus) input.focus();
  }

  function close() {
    if (inline) return;
    panel.hidden = true;
    launcherShows(false);
    state.open = false;
    save();
    launcher.focus();
  }

  function clear() {
    controller?.abort();
    state.msgs = [];
    save();
    hideError();
    renderAll();
    input.focus();
  }

  // Phones: the panel follows the visual viewport, so the keyboard never covers the input.
  function fitViewport() {
    const vv = window.visualViewport, fit = vv && (phone.matches || inline) && !panel.hidden;
    root.classList.toggle("full", inline || phone.matches);
    if (!inline) panel.setAttribute("aria-modal", String(phone.matches));
    panel.style.height = fit ? vv.height + "px" : "";
    panel.style.top = fit ? vv.offsetTop + "px" : "";
  }

  function scrollDown(force) {
    if (force || log.scrollHeight - log.scrollTop - log.clientHeight < 120) log.scrollTop = log.scrollHeight;
  }

  // The new question at the top of the log, with room below it for the answer to come.
  function pinTop(el) {
    spacer.style.height = "0px";
    const top = el.getBoundingClientRect().top - log.getBoundingClientRect().top + log.scrollTop - 8;
    spacer.style.height = Math.max(0, Math.ceil(log.clientHeight - (log.scrollHeight - top))) + "px";
    log.scrollTop = top;
  }

  function renderAll() {
    log.replaceChildren(intro, ...state.msgs.map((m) => (m.role === "user" ? userBubble(m.text) : replyBubble(m.reply))));
    if (!state.msgs.length) log.append(starters);
    log.append(spacer);
    clearButton.disabled = !state.msgs.length;
    scrollDown(true);
  }

  const userBubble = (text) => h("div", { class: "msg user" }, h("span", { class: "sr-only", text: T.you }), h("p", { text }));

  // A finished reply, from its fields: the alert first, notices, the body, its sources, then
  // the red flags and the disclaimer, always. `live`: it has just arrived (its alert is announced).
  function replyBubble(reply, live) {
    const alert = reply.alert && typeof reply.alert.message === "string" ? reply.alert : null;
    const level = alert?.level === "urgent" ? "urgent" : alert || reply.kind === "emergency" ? "emergency" : "";
    const cites = (Array.isArray(reply.citations) ? reply.citations : []).filter((c) => typeof c?.section === "string");
    const several = new Set(cites.map((c) => c.article_id || c.article_title)).size > 1;
    const sources = new Map(cites.map((c) => {
      const path = c.section.split(" › ");
      const label = typeof c.label === "string" && c.label ? c.label : path.slice(-2).join(" › ");
      const where = several && c.article_title ? c.article_title : path.length > 2 && !c.label ? c.section : "";
      return [+c.n, h("details", null,
        h("summary", null, h("span", { class: "n", text: String(c.n) }), label),
        where ? h("p", { class: "path", text: where }) : null,
        h("blockquote", null, markdown(quoteAsList(String(c.quote || "")))))];
    }));
    // A [n] marker is a button that opens source n.
    const marker = (n) => {
      const target = sources.get(n);
      if (!target) return h("sup", { text: `[${n}]` });
      return h("button", {
        type: "button", class: "ref", text: String(n), "aria-label": T.source + " " + n,
        onclick: () => { target.open = true; target.querySelector("summary").focus(); },
      });
    };
    const notices = (Array.isArray(reply.notices) ? reply.notices : []).filter((n) => typeof n?.text === "string");
    const signs = (Array.isArray(alert?.signs) ? alert.signs : []).map(String).join("; ");
    return h("div", { class: "msg bot" + (level ? " " + level : "") },
      alert ? h("div", { class: "alert", role: live ? "alert" : null },
        h("p", { class: "alert-head" }, icon("warn"), level === "urgent" ? T.urgent : T.emergency),
        markdown(alert.message), signs ? h("p", { text: `${T.described} ${signs}.` }) : null)
        : level ? h("p", { class: "alert-head" }, icon("warn"), T.urgent) : h("span", { class: "sr-only", text: T.answer }),
      notices.map((n) => h("p", { class: "notice", text: n.text })),
      h("div", { class: "md" }, markdown(bodyOf(reply).trim(), marker)),
      sources.size ? h("div", { class: "sources" }, h("p", { class: "label", text: T.sources }), [...sources.values()]) : null,
      safetyFooter(reply), reply.message_id && !level ? rating(reply) : null);
  }

  // Was it helpful? One vote per answer, sent to /api/feedback; remembered for the tab.
  function rating(reply) {
    const note = h("span", { role: "status", text: reply.rated ? T.thanks : "" });
    const vote = (value, label) => h("button", {
      type: "button", class: "vote " + value, "aria-label": label, title: label,
      "aria-pressed": String(reply.rated === value), disabled: !!reply.rated, onclick: async (e) => {
        const chosen = e.currentTarget, body = JSON.stringify({ message_id: reply.message_id, rating: value });
        buttons.forEach((b) => { b.disabled = true; });
        try {
          const res = await fetch(api + "/api/feedback",
            { method: "POST", headers: { "Content-Type": "application/json" }, credentials: "omit", body });
          if (!res.ok) throw new Error();
          reply.rated = value;
          save();
          chosen.setAttribute("aria-pressed", "true");
          note.textContent = T.thanks;
        } catch {
          buttons.forEach((b) => { b.disabled = false; });
          note.textContent = T.voteFailed;
        }
      },
    }, icon("thumb"));
    const buttons = [vote("up", T.helpful), vote("down", T.unhelpful)];
    return h("div", { class: "rate", role: "group", "aria-label": T.rate }, buttons, note);
  }

  // Red flags and disclaimer: the reply's fields, else an old server's footer, else the server's
  // rules. Compact and below the answer: a note to read, not a second answer.
  function safetyFooter(reply) {
    const tail = typeof reply.body === "string" ? "" : splitFooter(reply.answer).tail;
    const heading = reply.red_flags_heading || /^\s*\*\*(.+?)\*\*\s*$/m.exec(tail)?.[1] || server.redFlagHeading;
    let flags = Array.isArray(reply.red_flags) ? reply.red_flags : [];
    if (!flags.length) flags = (tail.match(/^\s*-\s+.+$/gm) || []).map((l) => l.replace(/^\s*-\s+/, ""));
    if (!flags.length) flags = server.redFlags;
    const disclaimer = reply.disclaimer || /^\s*_(.+)_\s*$/m.exec(tail)?.[1] || server.disclaimer;
    return h("div", { class: "footer" },
      flags.length ? h("div", { class: "flags", role: "note" }, h("p", null, icon("flag"), heading),
        h("ul", null, flags.map((f) => h("li", { text: String(f) })))) : null,
      h("p", { class: "disclaimer", text: disclaimer }));
  }

  // A quote may start inside a list ("Burning...\n- Numbness..."): show it as one list.
  function quoteAsList(quote) {
    const lines = quote.split("\n");
    if (lines.length > 1 && !/^\s*-\s/.test(lines[0]) && /^\s*-\s/.test(lines[1])) lines[0] = "- " + lines[0];
    return lines.join("\n");
  }

  async function send(raw) {
    const text = (raw || "").trim();
    if (!text || busy || countdown) return;
    hideError();
    const bubble = userBubble(text);
    // While streaming: the body so far (footer cut off) in a bubble that is not announced yet.
    const live = h("div", { class: "msg bot streaming" }, h("div", { class: "md" },
      h("p", { class: "dots" }, h("span", { class: "sr-only", text: T.writing }), h("i"), h("i"), h("i"))));
    starters.remove();
    log.insertBefore(bubble, spacer);
    log.insertBefore(live, spacer);
    input.value = "";
    grow();
    setBusy(true);
    pinTop(bubble);
    const signal = (controller = new AbortController()).signal;
    try {
      const reply = await streamReply(text, (soFar) => {
        live.firstChild.replaceChildren(markdown(splitFooter(soFar).body.trim()));
        pinTop(bubble);
      }, signal);
      state.msgs.push({ role: "user", text }, { role: "assistant", reply });
      save();
      const shown = replyBubble(reply, true);
      live.replaceWith(shown);
      clearButton.disabled = false;
      pinTop(bubble);
      arrived(shown);
    } catch (err) {
      // Nothing half-written stays on screen: a partial answer lacks its safety footer.
      live.remove();
      bubble.remove();
      if (!state.msgs.length) log.insertBefore(starters, spacer);
      if (!signal.aborted) {
        if (!input.value.trim()) input.value = text; // keep what they typed
        showError(err instanceof Failure ? err : new Failure("network"));
      }
    } finally {
      setBusy(false);
    }
  }

  // A new reply: its alert's headline on screen, and its answer (not the footer) said once.
  function arrived(bubble) {
    const alert = bubble.querySelector(".alert");
    if (alert) {
      const head = alert.getBoundingClientRect(), box = log.getBoundingClientRect();
      if (head.top < box.top || head.top + 60 > box.bottom) log.scrollTop += head.top - box.top - 8;
    }
    const said = [...bubble.querySelectorAll(".notice, .md")].map((el) => el.textContent.trim()).join(" ").trim();
    status.textContent = said ? T.answer + said : "";
  }

  function setBusy(value) {
    busy = value;
    sendButton.disabled = value || !!countdown;
    log.setAttribute("aria-busy", String(value));
  }

  function showError({ kind, detail }) {
    const retry = h("button", { type: "button", class: "retry", text: T.retry, onclick: () => send(input.value) });
    const text = h("p", { text: T[kind] || T.server });
    if (kind === "request" && detail.message) text.append(" " + detail.message);
    errorBox.replaceChildren(text, retry);
    errorBox.hidden = false;
    let wait = kind === "busy" ? detail.wait : 0;
    if (!wait) return;
    // 429: sending unlocks when the server says it may.
    const tick = () => {
      retry.textContent = wait > 0 ? fill(T.retryIn, { s: wait }) : T.retry;
      retry.disabled = sendButton.disabled = wait > 0;
      if (wait-- <= 0) { clearInterval(countdown); countdown = null; }
    };
    countdown = setInterval(tick, 1000);
    tick();
  }

  function hideError() {
    clearInterval(countdown);
    countdown = null;
    sendButton.disabled = busy;
    errorBox.hidden = true;
    errorBox.replaceChildren();
  }

  // A constructed sheet passes a page's CSP (style-src); <style> is the old-browser fallback.
  function addStyles(shadow) {
    try {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(STYLES);
      shadow.adoptedStyleSheets = [sheet];
    } catch {
      shadow.append(h("style", { text: STYLES }));
    }
  }

  const STYLES = `
.root{all:initial;font:400 15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;color:#1f2328;text-size-adjust:100%;-webkit-text-size-adjust:100%}
*,::before,::after{box-sizing:border-box}
[hidden]{display:none!important}
.sr-only{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%);white-space:nowrap}
button{font:inherit;color:inherit;cursor:pointer;border:1px solid transparent;background:none;margin:0}
button:disabled{cursor:default;opacity:.55}
:focus-visible{outline:3px solid var(--ink);outline-offset:2px}
svg{width:20px;height:20px;flex:none;fill:none;stroke:currentColor;stroke-width:2;stroke-linecap:round;stroke-linejoin:round}
.launcher,.panel{position:fixed;right:calc(20px + env(safe-area-inset-right));z-index:2147483000}
.left .launcher,.left .panel{right:auto;left:calc(20px + env(safe-area-inset-left))}
.launcher{bottom:calc(20px + env(safe-area-inset-bottom));display:flex;align-items:center;gap:8px;max-width:calc(100vw - 40px);padding:12px 18px;border-radius:99px;background:var(--brand);color:var(--on-brand);font-weight:600;box-shadow:0 4px 14px #0005}
.launcher span{overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.launcher:focus-visible{outline-offset:3px;box-shadow:0 0 0 3px #fff}
.panel{bottom:calc(84px + env(safe-area-inset-bottom));display:flex;flex-direction:column;width:390px;max-width:calc(100vw - 40px);height:640px;max-height:calc(100dvh - 110px);background:#fff;border-radius:14px;box-shadow:0 12px 40px #0005;overflow:hidden}
.full .panel{inset:0;width:100%;max-width:none;height:100dvh;max-height:none;border-radius:0;box-shadow:none;padding:env(safe-area-inset-top) env(safe-area-inset-right) env(safe-area-inset-bottom) env(safe-area-inset-left)}
.head{display:flex;align-items:center;gap:4px;padding:10px 8px 10px 16px;background:var(--brand);color:var(--on-brand)}
h1,h2{flex:1;margin:0;font-size:17px;line-height:1.3}
.icon{display:grid;place-items:center;width:40px;height:40px;border-radius:8px}
.icon:hover{background:#8884}
.head :focus-visible{outline-color:currentColor;outline-offset:-4px}
.log{flex:1;overflow-y:auto;overscroll-behavior:contain;padding:14px 14px 6px;display:flex;flex-direction:column;gap:12px}
.log:focus-visible{outline-offset:-3px}
.spacer{flex:none}
p{margin:0 0 6px}p:last-child{margin-bottom:0}
ul{margin:4px 0 8px;padding-inline-start:22px}li{margin:2px 0}
hr{border:0;border-top:1px solid #d0d7de;margin:8px 0}
.intro{padding:10px 12px;border-radius:10px;background:#f6f8fa;border:1px solid #d0d7de}
.disclaimer{font-size:12.5px;color:#4a5361}
.starters{display:flex;flex-direction:column;align-items:flex-start;gap:6px}
.starters button{text-align:start;padding:7px 12px;border-radius:16px;border-color:var(--ink);color:var(--ink);background:#fff;font-size:14px}
.starters button:hover{background:#f0f4f2}
.msg{overflow-wrap:anywhere}
.user{align-self:flex-end;max-width:88%;padding:8px 12px;border-radius:14px 14px 4px 14px;background:var(--brand);color:var(--on-brand);white-space:pre-wrap}
.bot{padding:10px 12px;border-radius:14px 14px 14px 4px;background:#f3f4f6}
[dir=rtl] .user{border-radius:14px 14px 14px 4px}[dir=rtl] .bot{border-radius:14px 14px 4px 14px}
.ref{display:inline-grid;place-items:center;min-width:20px;height:20px;padding:0 4px;margin:0 2px;border-radius:10px;font-size:12px;font-weight:700;vertical-align:text-top;background:#fff;color:var(--ink);border-color:var(--ink)}
sup{font-size:12px}
.sources,.footer,.rate{margin-top:10px}
.footer{padding-top:6px;border-top:1px solid #d0d7de;font-size:13px;line-height:1.4}
.notice{margin:0 0 8px;padding-inline-start:8px;border-inline-start:3px solid #6e7781;font-size:14px;color:#3d444d}
.rate{display:flex;align-items:center;gap:6px;font-size:13px;color:#4a5361}
.vote{display:grid;border-color:#d0d7de;background:#fff;border-radius:6px;padding:4px 8px;color:#4a5361}
.vote svg{width:18px;height:18px}.down svg{transform:scaleY(-1)}
.vote[aria-pressed=true]{border-color:var(--ink);color:var(--ink)}
.label{font-size:12px;font-weight:700;text-transform:uppercase;letter-spacing:.04em;color:#4a5361}
details{margin:4px 0;border:1px solid #d0d7de;border-radius:8px;background:#fff}
summary{cursor:pointer;padding:6px 10px;color:var(--ink);font-weight:600;font-size:14px}
.n{display:inline-block;min-width:20px;margin-inline-end:6px;text-align:center;border-radius:10px;background:var(--brand);color:var(--on-brand);font-size:12px}
.path{padding:0 10px;font-size:12px;color:#4a5361}
blockquote{margin:4px 10px 10px;padding-inline-start:10px;border-inline-start:3px solid #d0d7de;font-size:14px}
.flags{margin-bottom:4px;padding-inline-start:8px;border-inline-start:3px solid #b7791f;color:#5c3b00}
.flags p,.flags ul,.flags li{display:inline;margin:0;padding:0}
.flags p{font-weight:700}.flags p::after{content:" "}.flags li+li::before{content:" · "}
.flags svg{width:14px;height:14px;vertical-align:-2px;margin-inline-end:4px}
.bot.emergency{border:2px solid #b42318}.bot.urgent{border:2px solid #b7791f}
.alert{margin:-10px -12px 10px;padding:8px 12px 10px;border-radius:12px 12px 0 0}
.emergency .alert{background:#b42318;color:#fff}
.urgent .alert{background:#fff4e5;color:#5c3b00;border-bottom:2px solid #b7791f}
.alert-head{display:flex;align-items:center;gap:8px;font-weight:700;font-size:13px;text-transform:uppercase;letter-spacing:.04em}
.bot>.alert-head{margin:-10px -12px 8px;padding:8px 12px;background:#b42318;color:#fff;border-radius:12px 12px 0 0}
.dots{display:flex;gap:4px;padding:6px 0}
.dots i{width:8px;height:8px;border-radius:50%;background:#6b7280;animation:blink 1.2s infinite}
.dots i:nth-child(3){animation-delay:.2s}.dots i:nth-child(4){animation-delay:.4s}
@keyframes blink{0%,80%,100%{opacity:.25}40%{opacity:1}}
@media (prefers-reduced-motion:reduce){.dots i{animation:none}}
.error{display:flex;align-items:center;gap:10px;margin:0 12px 8px;padding:8px 10px;border-radius:8px;background:#fdecec;border:1px solid #b42318;color:#5f1410;font-size:14px}
.error p{flex:1;margin:0}
.retry{flex:none;padding:6px 12px;border-radius:8px;background:#b42318;color:#fff;font-weight:600}
.composer{display:flex;gap:8px;align-items:flex-end;padding:10px 12px 12px;border-top:1px solid #d0d7de}
textarea{flex:1;min-height:44px;max-height:140px;resize:none;margin:0;padding:10px 12px;border:1px solid #6e7781;border-radius:10px;font:inherit;font-size:16px;color:#1f2328;background:#fff}
textarea::placeholder{color:#5f6672}
textarea:focus-visible{outline-offset:0;border-color:var(--ink)}
.send{padding:10px 16px;min-height:44px;border-radius:10px;background:var(--brand);color:var(--on-brand);font-weight:600}
@media (forced-colors:active){.user,.bot,.flags,.launcher,.send{border:1px solid CanvasText}}`;

  window.AnkleChat = { open: () => panel && open(true), close: () => panel && close(), clear: () => panel && clear() };

  if (document.body) build();
  else document.addEventListener("DOMContentLoaded", build);
})();
