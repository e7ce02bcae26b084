"""Mastra core (Python): the EE auth layer (``mastra.core.ee``), the HTTP server
(``mastra.core.server``), the studio (``mastra.core.studio``), the client
(``mastra.core.client``) and the ``mastra-ee`` CLI (``mastra.core.cli``)."""
