*** Settings ***
Documentation     Enriches every collected claim with its policy from the
...               policy-administration desktop application. A claim whose policy does
...               not exist is quarantined with the reason; the robot goes on.
...               Small batches are looked up one by one through the keyboard; from
...               ${EXPORT_FROM} claims on, one export of every policy is read instead.

Resource          ../resources/policies.resource

Suite Setup       Start Run And Open The Policy Application    enrich_policies
Suite Teardown    Close The Policy Application And Finish The Run


*** Variables ***
${BATCH_SIZE}       %{RPAML_ENRICH_BATCH_SIZE=500}
${EXPORT_FROM}      %{RPAML_ENRICH_EXPORT_FROM=50}


*** Tasks ***
Enrich Collected Claims With Their Policies
    [Documentation]    Take the collected claims a batch at a time and enrich each one.
    VAR    ${policies}=    ${None}
    VAR    ${export_location}=    ${EMPTY}
    WHILE    True    limit=NONE
        ${claims}=    Claim Records To Enrich    policy_number    limit=${BATCH_SIZE}
        IF    not ${claims}    BREAK
        ${many}=    Evaluate    len($claims) >= int($EXPORT_FROM)
        IF    ${many} and $policies is None
            ${policies}    ${export_location}=    Read Every Policy From An Export
        END
        FOR    ${claim}    IN    @{claims}
            Enrich Claim With Its Policy    ${claim}    ${policies}    ${export_location}
        END
    END
    Run Should Have No Application Failures
