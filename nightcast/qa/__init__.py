"""Audio QA: every episode is heard (ASR word error rate per segment) and metered before it ships."""

from nightcast.qa.gate import QAFailed, check_episode, listen, needs_remix, needs_resynthesis

__all__ = ["QAFailed", "check_episode", "listen", "needs_remix", "needs_resynthesis"]
