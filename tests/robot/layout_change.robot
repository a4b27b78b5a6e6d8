*** Settings ***
Documentation     Acceptance: a portal whose pages changed their markup is an application
...               error that says so, and nothing is staged from it.
...               Run by tests/robots/test_resilience_acceptance.py with the layout switch on
...               "redesign".

Resource          ../../robots/resources/claims.resource

Suite Setup       Start Run And Log In To The Claims Portal    collect_claims
Suite Teardown    Close The Claims Portal And Finish The Run


*** Test Cases ***
A Redesigned Claims List Is A Layout Error
    [Documentation]    The robot does not guess which text is which: it stops and says why.
    Run Keyword And Expect Error
    ...    PageLayoutError: The claims list at */claims?* does not look as expected*layout changed?*
    ...    Collect Open Claims From The Portal    per_page=50

A Redesigned Claim Page Is A Layout Error
    [Documentation]    The detail page changed too: no details are read from it.
    VAR    &{claim}    claim_id=%{RPAML_ACCEPTANCE_CLAIM_ID}
    VAR    @{claims}    ${claim}
    Run Keyword And Expect Error
    ...    PageLayoutError: Claim * does not look as expected*layout changed?*
    ...    Add Claim Details    ${claims}
