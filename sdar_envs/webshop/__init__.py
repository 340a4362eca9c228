"""WebShop (princeton-nlp) as ``sdar/WebShop-v0``: a generated catalog, a locally hosted shop and WebShop's reward.

Modules: :mod:`~sdar_envs.webshop.catalog` (loader, and which catalog to open), :mod:`~sdar_envs.webshop.generator`
(the seeded catalog generator), :mod:`~sdar_envs.webshop.taxonomy` (generator vocabulary),
:mod:`~sdar_envs.webshop.search` (product search), :mod:`~sdar_envs.webshop.pages` (pages, HTML and its parser),
:mod:`~sdar_envs.webshop.engine` (page state machine, shop options), :mod:`~sdar_envs.webshop.server` (HTTP server),
:mod:`~sdar_envs.webshop.transport` (in-process and HTTP clients), :mod:`~sdar_envs.webshop.reward` (reward and
verifier), :mod:`~sdar_envs.webshop.nouns` (title nouns), :mod:`~sdar_envs.webshop.oracle` (expert),
:mod:`~sdar_envs.webshop.env` (the Gymnasium env), :mod:`~sdar_envs.webshop.cli` (``sdar-webshop``).
"""
