"""rpaml Robot Framework keyword libraries.

``ClaimsPortal`` drives the claims portal in headless Chromium; ``PolicyDesktop`` drives
the policy-administration desktop application (Tk, under Xvfb) through keyboard,
clipboard and export; ``Staging`` puts what robots collect and look up into the staging
store and hands out the records to enrich and the decisions to apply; ``ReviewDesk`` is
the simulated reviewer that works the review app's queue by keyboard.
"""

KEYWORD_LIBRARIES: tuple[str, ...] = (
    "rpaml_robots.portal.ClaimsPortal",
    "rpaml_robots.policy_desktop.PolicyDesktop",
    "rpaml_robots.staging.Staging",
    "rpaml_robots.review_desk.ReviewDesk",
)
"""Import names of the keyword libraries (``make docs`` builds a libdoc page for each)."""
