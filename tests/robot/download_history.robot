*** Settings ***
Documentation     Acceptance: the closed claims export is downloaded and every closed
...               claim is staged once; downloading it again changes nothing.
...               Run by tests/robots/test_acceptance.py against a real portal and store.

Library           Collections
Resource          ../../robots/resources/claims.resource

Suite Setup       Start Run And Log In To The Claims Portal    download_history
Suite Teardown    Close The Claims Portal And Finish The Run


*** Variables ***
${EXPECTED_CLOSED_CLAIMS}    %{RPAML_ACCEPTANCE_CLOSED_CLAIMS}
@{HISTORY_FIELDS}            claim_id    policy_number    claimant_name    amount    incident_date
...                          closed_date    outcome    source_location


*** Test Cases ***
Every Closed Claim Is Staged Once
    [Documentation]    One staged record per row of the export.
    ${export}=    Download Closed Claims History
    Should End With    ${export}    .xlsx
    ${closed_claims}=    Read Closed Claims History    ${export}
    Length Should Be    ${closed_claims}    ${EXPECTED_CLOSED_CLAIMS}
    FOR    ${field}    IN    @{HISTORY_FIELDS}
        Dictionary Should Contain Key    ${closed_claims}[0]    ${field}
    END
    ${counts}=    Stage Claims    ${closed_claims}    robot:download_history
    Should Be Equal As Integers    ${counts}[new]    ${EXPECTED_CLOSED_CLAIMS}

Downloading The History Again Stages Nothing New
    [Documentation]    Ingest is idempotent: the same export gives unchanged records.
    ${export}=    Download Closed Claims History
    ${closed_claims}=    Read Closed Claims History    ${export}
    ${counts}=    Stage Claims    ${closed_claims}    robot:download_history
    Should Be Equal As Integers    ${counts}[unchanged]    ${EXPECTED_CLOSED_CLAIMS}
    Should Be Equal As Integers    ${counts}[new]    0

Downloading The Claims Closed Since A Day Takes Only Those
    [Documentation]    The incremental export: fewer rows, all of them already staged.
    ${through}=    Portal Business Date
    Should Match Regexp    ${through}    ^\\d{4}-\\d{2}-\\d{2}$
    ${export}=    Download Closed Claims History    closed_since=${through}
    ${closed_claims}=    Read Closed Claims History    ${export}
    ${count}=    Get Length    ${closed_claims}
    Should Be True    ${count} < ${EXPECTED_CLOSED_CLAIMS}
    ${counts}=    Stage Claims    ${closed_claims}    robot:download_history
    Should Be Equal As Integers    ${counts}[unchanged]    ${count}
    Should Be Equal As Integers    ${counts}[new]    0
