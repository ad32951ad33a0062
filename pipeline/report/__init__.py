"""The end-of-job report: counts per stage and reason, tokens, mix, losses — as text and plots."""
