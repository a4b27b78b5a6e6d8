*** Settings ***
Documentation     Acceptance: with the portal slow, answering 500 now and then (losing the
...               answer of some decisions it took) and ending sessions, every decided record
...               is applied exactly once, one by one and in bulk, and every receipt stored.
...               Run by tests/robots/test_resilience_acceptance.py with the fault switches on;
...               it checks the portal's own record of actions (/admin/actions).

Resource          ../../robots/resources/claims.resource

Suite Setup       Start Run And Log In To The Claims Portal    apply_decisions
Suite Teardown    Close The Claims Portal And Finish The Run


*** Variables ***
${ONE_BY_ONE}    %{RPAML_ACCEPTANCE_ONE_BY_ONE=6}


*** Test Cases ***
Decisions Applied One By One Survive A Flaky Portal
    [Documentation]    Each record gets a receipt although pages fail and sessions end.
    ${decided_claims}=    Claim Decisions To Apply    limit=${ONE_BY_ONE}
    Should Not Be Empty    ${decided_claims}
    FOR    ${work_item}    IN    @{decided_claims}
        Apply Decision In The Portal    ${work_item}
    END
    Run Should Have No Application Failures

Decisions Applied In Bulk Survive A Flaky Portal
    [Documentation]    One bulk screen per decision; a lost answer is found by re-reading.
    ${decided_claims}=    Claim Decisions To Apply    limit=100
    Should Not Be Empty    ${decided_claims}
    ${counts}=    Apply Decisions In Bulk In The Portal    ${decided_claims}
    Should Not Contain    ${counts}    application_failure
    Run Should Have No Application Failures
    ${left}=    Claim Decisions To Apply    limit=100
    Should Be Empty    ${left}
