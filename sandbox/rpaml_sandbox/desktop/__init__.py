"""The sandbox policy-administration desktop application (Tkinter).

Its policies are derived from the claims portal's seeded claims
(:func:`rpaml_sandbox.desktop.policies.generate_policies`) and kept in the application's
own JSON data file; ``python -m rpaml_sandbox.desktop`` generates the file and runs the
window.
"""
