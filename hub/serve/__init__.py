"""The HTTP service (`hub serve`): FastAPI app, in-memory lookup snapshot, and the web pages."""
