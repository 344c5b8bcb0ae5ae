"""Audio QA: every episode is heard (ASR word error rate per segment) and metered before it ships."""

from nightcast.qa.gate import QAFailed, check_episode, listen
from nightcast.qa.retry import RetryPlan, after_retry, needs_remix, needs_resynthesis, plan_retry

__all__ = ["QAFailed", "RetryPlan", "after_retry", "check_episode", "listen", "needs_remix", "needs_resynthesis",
           "plan_retry"]
