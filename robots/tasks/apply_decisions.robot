*** Settings ***
Documentation     Applies the decided claims in the claims portal, effectively once,
...               and stores each receipt. Bad records are recorded and skipped;
...               portal failures are recorded and fail the run.

Resource          ../resources/claims.resource

Suite Setup       Start Run And Log In To The Claims Portal    apply_decisions
Suite Teardown    Close The Claims Portal And Finish The Run


*** Variables ***
${BATCH_SIZE}    %{RPAML_ACT_BATCH_SIZE=100}


*** Tasks ***
Apply Decisions
    [Documentation]    Take the decided records, a batch at a time, and apply each one
    ...    in the portal until none is left.
    WHILE    True    limit=NONE
        ${decided_claims}=    Claim Decisions To Apply    limit=${BATCH_SIZE}
        IF    not ${decided_claims}    BREAK
        ${portal_down}=    Apply Decisions In The Portal    ${decided_claims}
        IF    ${portal_down}    BREAK
    END
    Run Should Have No Application Failures


*** Keywords ***
Apply Decisions In The Portal
    [Documentation]    Applies a batch of decided claims; returns whether the portal
    ...    seems down, in which case the rest of the batch is left for a later run.
    [Arguments]    ${decided_claims}
    FOR    ${work_item}    IN    @{decided_claims}
        Apply Decision In The Portal    ${work_item}
        # Once the portal keeps failing, every further record would fail the same way.
        ${portal_down}=    Application Seems Down
        IF    ${portal_down}    RETURN    ${True}
    END
    RETURN    ${False}
