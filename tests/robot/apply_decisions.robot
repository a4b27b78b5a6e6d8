*** Settings ***
Documentation     Acceptance: each decided record is applied in the portal once and its
...               receipt stored; a claim the portal does not know is a business failure.
...               Run twice by tests/robots/test_acceptance.py, which checks the portal's
...               actions and the store after each run.

Resource          ../../robots/resources/claims.resource

Suite Setup       Start Run And Log In To The Claims Portal    apply_decisions
Suite Teardown    Close The Claims Portal And Finish The Run


*** Test Cases ***
Decided Claims Are Applied Once
    [Documentation]    Same steps as the Apply Decisions task; afterwards no decided record
    ...    is left to act on.
    ${decided_claims}=    Claim Decisions To Apply    limit=100
    FOR    ${work_item}    IN    @{decided_claims}
        Apply Decision In The Portal    ${work_item}
    END
    Run Should Have No Application Failures
    ${left}=    Claim Decisions To Apply    limit=100
    Should Be Empty    ${left}
