"""The wire layer: pydantic v2 requests and responses (:mod:`.schemas`) and the
endpoint functions that compute them with the core (:mod:`.service`)."""
