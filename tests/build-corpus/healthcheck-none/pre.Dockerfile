FROM corpus/bb:1
HEALTHCHECK --retries=2 CMD true
