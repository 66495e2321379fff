"""Player experience: authenticated sessions and journeys over the gameplay loop.

Import from the sub-modules (``components.player_experience.api``, ``.auth``, ``.sessions``);
the package itself stays import-light so that the auth layer can be used without loading
the whole game.
"""
