"""The policy-administration desktop application (Tkinter).

One window, driven entirely from the keyboard, as robots on Linux have to (Tk exposes no
accessibility tree there, and OCR misreads values):

* ``Ctrl+L`` starts a new search: clears the policy-number field and focuses it.
* ``Return`` in the field searches; the details view shows the policy or "not found".
* ``Ctrl+Shift+C`` ("Edit > Copy record") puts the last result on the clipboard as
  tab-separated text: a header line and a value line (see ``record_as_tsv``).
* ``Ctrl+E`` ("File > Export...") opens the export dialog: its path field is
  pre-filled and selected, so typing replaces it; ``Return`` writes every policy as CSV.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from rpaml_sandbox.desktop.policies import (
    FIELD_LABELS,
    POLICY_FIELDS,
    PolicyRecord,
    export_csv,
    record_as_tsv,
)

WINDOW_TITLE: Final = "Policy Administration"
EXPORT_TITLE: Final = "Export policies"


class PolicyApp:
    """The application's window and behaviour over an in-memory set of policies."""

    def __init__(
        self,
        root: tk.Tk,
        policies: Mapping[str, PolicyRecord],
        *,
        export_path: Path,
    ) -> None:
        self.root = root
        self.policies = dict(policies)
        self.default_export_path = export_path
        self.last_term = ""
        self.last_record: PolicyRecord | None = None
        root.title(WINDOW_TITLE)
        root.geometry("520x420+0+0")

        menu = tk.Menu(root, tearoff=False)
        file_menu = tk.Menu(menu, tearoff=False)
        file_menu.add_command(label="Export...", accelerator="Ctrl+E", command=self.open_export)
        file_menu.add_command(label="Quit", accelerator="Ctrl+Q", command=root.destroy)
        edit_menu = tk.Menu(menu, tearoff=False)
        edit_menu.add_command(label="New search", accelerator="Ctrl+L", command=self.new_search)
        edit_menu.add_command(
            label="Copy record", accelerator="Ctrl+Shift+C", command=self.copy_record
        )
        menu.add_cascade(label="File", menu=file_menu)
        menu.add_cascade(label="Edit", menu=edit_menu)
        root.config(menu=menu)

        search = tk.Frame(root, padx=8, pady=8)
        search.pack(fill="x")
        tk.Label(search, text="Policy number").pack(side="left")
        self.term = tk.StringVar(root)
        self.entry = tk.Entry(search, textvariable=self.term, width=24)
        self.entry.pack(side="left", padx=6)
        tk.Button(search, text="Search", command=self.search).pack(side="left")

        details = tk.LabelFrame(root, text="Policy details", padx=8, pady=8)
        details.pack(fill="both", expand=True, padx=8)
        self.values: dict[str, tk.StringVar] = {}
        for row, name in enumerate(POLICY_FIELDS):
            tk.Label(details, text=FIELD_LABELS[name], anchor="w").grid(
                row=row, column=0, sticky="w"
            )
            variable = tk.StringVar(root, value="")
            tk.Label(details, textvariable=variable, anchor="w").grid(
                row=row, column=1, sticky="w", padx=12
            )
            self.values[name] = variable
        self.status = tk.StringVar(root, value=f"{len(self.policies)} policies loaded")
        tk.Label(root, textvariable=self.status, anchor="w", relief="sunken").pack(
            fill="x", side="bottom"
        )

        self.entry.bind("<Return>", lambda _event: self.search())
        root.bind_all("<Control-l>", lambda _event: self.new_search())
        # An upper-case keysym is the shifted key: Ctrl+Shift+C.
        root.bind_all("<Control-C>", lambda _event: self.copy_record())
        root.bind_all("<Control-e>", lambda _event: self.open_export())
        root.bind_all("<Control-q>", lambda _event: root.destroy())
        self.entry.focus_set()

    def new_search(self) -> None:
        """Clear the search field and focus it."""
        self.entry.delete(0, "end")
        self.entry.focus_set()

    def search(self) -> PolicyRecord | None:
        """Look up the policy number in the field and show the result."""
        term = self.term.get().strip().upper()
        record = self.policies.get(term)
        self.last_term, self.last_record = term, record
        shown = record.as_dict() if record is not None else {}
        for name, variable in self.values.items():
            variable.set(shown.get(name, ""))
        self.status.set(f"Policy {term} found" if record else f"Policy {term} not found")
        return record

    def copy_record(self) -> str:
        """Put the last search result on the clipboard as tab-separated text."""
        text = record_as_tsv(self.last_term, self.last_record)
        self.root.clipboard_clear()
        self.root.clipboard_append(text)
        self.status.set(f"Copied {self.last_term} to the clipboard")
        return text

    def open_export(self) -> None:
        """Open the export dialog (path field pre-filled and selected)."""
        dialog = tk.Toplevel(self.root)
        dialog.title(EXPORT_TITLE)
        dialog.geometry("+0+440")
        tk.Label(dialog, text="Export all policies to (CSV):").pack(anchor="w", padx=8)
        path = tk.StringVar(dialog, value=str(self.default_export_path))
        field = tk.Entry(dialog, textvariable=path, width=60)
        field.pack(padx=8, pady=8)
        field.select_range(0, "end")
        field.icursor("end")

        def save(_event: object = None) -> None:
            target = Path(path.get().strip())
            try:
                count = self.export(target)
            except OSError as error:
                self.status.set(f"Export failed: {error}")
            else:
                self.status.set(f"Exported {count} policies to {target}")
            dialog.destroy()
            self.entry.focus_force()

        field.bind("<Return>", save)
        field.bind("<Escape>", lambda _event: dialog.destroy())

        def clear(_event: object = None) -> str:
            field.delete(0, "end")
            return "break"  # not the main window's Ctrl+L as well

        field.bind("<Control-l>", clear)
        tk.Button(dialog, text="Save", command=save).pack(pady=4)
        # No window manager under Xvfb: take the keyboard focus explicitly.
        dialog.after_idle(field.focus_force)

    def export(self, target: Path) -> int:
        """Write every policy to ``target`` as CSV; return the number written."""
        return export_csv(target, sorted(self.policies.values(), key=lambda p: p.policy_number))
