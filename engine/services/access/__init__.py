"""Access control: scoped API keys (issue, list, revoke, authenticate) and rate limits shared by every API
process. The HTTP side (which scope a route needs, the 401/403/429 answers) is in `api/auth.py`."""
