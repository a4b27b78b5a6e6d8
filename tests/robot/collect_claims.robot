*** Settings ***
Documentation     Acceptance: collecting open claims stages every claim once, with its
...               details, although claims arrive while the robot pages through the list.
...               Run by tests/robots/test_acceptance.py against a real portal and store.

Library           Collections
Resource          ../../robots/resources/claims.resource

Suite Setup       Start Run And Log In To The Claims Portal    collect_claims
Suite Teardown    Close The Claims Portal And Finish The Run


*** Variables ***
# Small pages, so that claims arriving while paging push rows onto the next page.
${PER_PAGE}         %{RPAML_CLAIMS_PER_PAGE=10}
@{DETAIL_FIELDS}    claimant_age    reported_date    policy_start_date    region    prior_claims


*** Test Cases ***
Every Open Claim Is Staged Once With Its Details
    [Documentation]    Repeated rows are skipped and counted; new claims get their details.
    ${open_claims}=    Collect Open Claims From The Portal    per_page=${PER_PAGE}
    ${claim_ids}=    Evaluate    [claim["claim_id"] for claim in $open_claims]
    List Should Not Contain Duplicates    ${claim_ids}
    ${figures}=    Collection Statistics
    Should Be True    ${figures}[duplicates] > 0    msg=Expected late arrivals to repeat rows
    ${new_claims}=    Read Details Of Claims Not Yet Staged    ${open_claims}
    Length Should Be    ${new_claims}    ${open_claims.__len__()}
    FOR    ${claim}    IN    @{new_claims}
        Claim Should Have Its Details    ${claim}
    END
    ${counts}=    Stage Claims    ${new_claims}    robot:collect_claims
    Should Be Equal As Integers    ${counts}[new]    ${new_claims.__len__()}

A Second Collection Reads Only The Claims That Arrived Since
    [Documentation]    Known claims are not opened again; late arrivals are staged now.
    ${open_claims}=    Collect Open Claims From The Portal    per_page=${PER_PAGE}
    ${new_claims}=    Read Details Of Claims Not Yet Staged    ${open_claims}
    ${counts}=    Stage Claims    ${new_claims}    robot:collect_claims
    Should Be Equal As Integers    ${counts}[new]    ${new_claims.__len__()}
    Should Be Equal As Integers    ${counts}[revised]    0


*** Keywords ***
Claim Should Have Its Details
    [Documentation]    The claim holds the detail page's fields and its URL as source.
    [Arguments]    ${claim}
    FOR    ${field}    IN    @{DETAIL_FIELDS}
        Dictionary Should Contain Key    ${claim}    ${field}
    END
    Should Contain    ${claim}[source_location]    /claims/${claim}[claim_id]
