from cim_plugin.cli import _entry

_entry()
