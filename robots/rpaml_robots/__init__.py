"""rpaml Robot Framework keyword libraries.

``ClaimsPortal`` drives the claims portal in headless Chromium; ``Staging`` puts what
robots collect into the staging store and hands out the decisions to apply.
"""

KEYWORD_LIBRARIES: tuple[str, ...] = (
    "rpaml_robots.portal.ClaimsPortal",
    "rpaml_robots.staging.Staging",
)
"""Import names of the keyword libraries (``make docs`` builds a libdoc page for each)."""
