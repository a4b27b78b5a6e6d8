*** Settings ***
Documentation     Collects the open claims from the claims portal into the staging
...               store. Only claims not staged yet get their detail page opened.

Resource          ../resources/claims.resource

Suite Setup       Start Run And Log In To The Claims Portal    collect_claims
Suite Teardown    Close The Claims Portal And Finish The Run


*** Variables ***
${CLAIMS_PER_PAGE}    %{RPAML_CLAIMS_PER_PAGE=200}


*** Tasks ***
Collect New Claims
    [Documentation]    List the open claims, complete the new ones, stage them.
    ${open_claims}=    Collect Open Claims From The Portal    per_page=${CLAIMS_PER_PAGE}
    ${new_claims}=    Read Details Of Claims Not Yet Staged    ${open_claims}
    Stage Claims    ${new_claims}    robot:collect_claims
