"""The Faust shell: agents, tables and worker process around the pure core."""
