"""Podium's shared memory on Chroma (namespaces, embeddings, plan cache): arrives with the memory issue."""
