"""A patient-education chatbot for pain behind the medial malleolus.

    from chatbot import Chatbot
    bot = Chatbot.from_settings(rebuild=True)
    reply = bot.reply("What are the symptoms of tarsal tunnel syndrome?")
    print(reply.answer)
"""

from chatbot.answer.reply import Citation, Reply
from chatbot.bot import Chatbot

__all__ = ["Chatbot", "Citation", "Reply"]
