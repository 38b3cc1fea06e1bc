"""A patient-education chatbot: answers from a clinic's articles, cites them, never drops its safety warnings.

    from chatbot import Chatbot
    bot = Chatbot.from_settings(rebuild=True)
    reply = bot.reply("What helps at home?")
    print(reply.answer)
"""

from chatbot.answer.reply import Citation, Reply
from chatbot.bot import Chatbot

__all__ = ["Chatbot", "Citation", "Reply"]
