"""Knowledge: the service catalog, the Chroma store, embedders, ingestion and retrieval. A leaf package."""
