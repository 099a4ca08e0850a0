"""tether: an OpenAI Responses API gateway that keeps conversation state."""

__version__ = "0.1.0"
