"""A listener's data rights: what nightcast holds about them, a copy of it, and erasing it.

    holdings(settings, id)                 every place nightcast keeps something about the listener
    export_listener(settings, id, zip)     their profile, requests, feedback, episodes and that list
    forget_listener(settings, id)          remove it all; a receipt of what went
    import_listener(settings, file)        an exported profile (zip or YAML) back into the store
"""

from nightcast.rights.export import export_listener, import_listener
from nightcast.rights.forget import forget_listener
from nightcast.rights.holdings import Holdings, Place, holdings

__all__ = ["Holdings", "Place", "export_listener", "forget_listener", "holdings", "import_listener"]
