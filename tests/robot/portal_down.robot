*** Settings ***
Documentation     Acceptance: a portal that does not answer is an application error with a
...               clear message, raised after the bounded retries.
...               Run by tests/robots/test_acceptance.py with RPAML_PORTAL_URL on a closed port.

Library           rpaml_robots.portal.ClaimsPortal    page_attempts=2    retry_delay=0.1

Suite Teardown    Close Claims Portal


*** Test Cases ***
A Portal That Is Down Is An Application Error
    [Documentation]    The error names the page, the URL and the reason.
    Run Keyword And Expect Error
    ...    ApplicationError: The portal's log-in page did not load from */login after 2 attempts: *refused
    ...    Open Claims Portal    %{RPAML_PORTAL_URL}
