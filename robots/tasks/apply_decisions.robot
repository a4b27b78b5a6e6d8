*** Settings ***
Documentation     Applies the decided claims in the claims portal, effectively once,
...               and stores each receipt. Bad records are recorded and skipped;
...               portal failures are recorded and fail the run.
...               ACT_MODE "bulk" (default) decides a batch per decision through the
...               portal's bulk screen; "single" opens each claim on its own.

Resource          ../resources/claims.resource

Suite Setup       Start Run And Log In To The Claims Portal    apply_decisions
Suite Teardown    Close The Claims Portal And Finish The Run


*** Variables ***
${BATCH_SIZE}    %{RPAML_ACT_BATCH_SIZE=100}
${ACT_MODE}      %{RPAML_ACT_MODE=bulk}


*** Tasks ***
Apply Decisions
    [Documentation]    Take the decided records, a batch at a time, and apply them in the
    ...    portal until none is left.
    IF    $ACT_MODE not in ("bulk", "single")
        Fail    RPAML_ACT_MODE must be bulk or single, not "${ACT_MODE}"
    END
    WHILE    True    limit=NONE
        ${decided_claims}=    Claim Decisions To Apply    limit=${BATCH_SIZE}
        IF    not ${decided_claims}    BREAK
        IF    $ACT_MODE == "single"
            ${portal_down}=    Apply Decisions One By One    ${decided_claims}
        ELSE
            Apply Decisions In Bulk In The Portal    ${decided_claims}
            ${portal_down}=    Application Seems Down
        END
        IF    ${portal_down}    BREAK
    END
    Run Should Have No Application Failures


*** Keywords ***
Apply Decisions One By One
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
