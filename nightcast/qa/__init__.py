"""Audio QA: every episode is heard (ASR word error rate per segment) and metered before it ships."""

from nightcast.qa.gate import QAFailed, check_episode, needs_resynthesis, spoken_segments

__all__ = ["QAFailed", "check_episode", "needs_resynthesis", "spoken_segments"]
