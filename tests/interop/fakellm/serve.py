"""serve.py: runs the fake LLM server (fake_llm_server.py) for a C test: prints its base URL
on one line, then serves until killed, or at most 120 s."""
import sys
import time

from fake_llm_server import FakeServer

with FakeServer() as s:
    print(s.url, flush=True)
    time.sleep(120)
