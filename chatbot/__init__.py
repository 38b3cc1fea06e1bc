"""A patient-education chatbot for pain behind the medial malleolus.

    from chatbot import Chatbot
    bot = Chatbot.from_settings(rebuild=True)
    reply = bot.reply("What are the symptoms of tarsal tunnel syndrome?")
    print(reply.answer)
"""

from chatbot.bot import Chatbot
from chatbot.reply import Citation, Reply

__all__ = ["Chatbot", "Citation", "Reply"]
