//! What `syncwatch check` warns about: a valid rules file that can never
//! work as meant (a rule that notifies nobody, a matcher on an event name,
//! service or data type that Railz never sends as written).

use crate::config::Config;
use crate::rules::{Condition, CountCondition, Field, FieldMatcher, Pattern, Rule};

/// Railz's event names.
const EVENTS: &[&str] = &["data", "dataPerType", "login", "auth", "connectionStatus"];

/// Services as Railz names them (an open set: only a difference of case
/// from one of these is warned about).
const SERVICES: &[&str] = &[
    "quickbooks",
    "quickbooksDesktop",
    "xero",
    "sageIntacct",
    "sageBusinessCloud",
    "freshbooks",
    "oracleNetsuite",
    "dynamicsBusinessCentral",
    "zohoBooks",
    "wave",
    "plaid",
    "shopify",
    "square",
    "stripe",
];

/// Data types as Railz names them (only a near miss of one of these, case
/// or a singular for a plural, is warned about).
const DATA_TYPES: &[&str] = &[
    "accounts",
    "agedPayable",
    "agedReceivable",
    "attachments",
    "balanceSheets",
    "bankAccounts",
    "bankTransactions",
    "billCreditNotes",
    "billPayments",
    "bills",
    "businessInfo",
    "cashflowStatements",
    "customers",
    "deposits",
    "employees",
    "estimates",
    "expenses",
    "incomeStatements",
    "inventory",
    "invoiceCreditNotes",
    "invoicePayments",
    "invoices",
    "journalEntries",
    "purchaseOrders",
    "refunds",
    "salesReceipts",
    "taxRates",
    "trackingCategories",
    "trialBalances",
    "vendors",
];

/// Every warning about `config`, one line each.
pub fn warnings(config: &Config) -> Vec<String> {
    config.rules.iter().flat_map(rule_warnings).collect()
}

fn rule_warnings(rule: &Rule) -> Vec<String> {
    let mut found = Vec::new();
    if rule.notify.is_empty() {
        found.push("notifies no channel: its alerts are only recorded (give `notify` or `defaults.notify`)".to_owned());
    }
    let (mut fields, mut counts) = (Vec::new(), Vec::new());
    walk(&rule.when, &mut fields, &mut counts);
    for matcher in fields {
        for pattern in literal(&matcher.patterns) {
            found.extend(field_warning(matcher.field, pattern));
        }
    }
    for count in counts {
        for pattern in literal(&count.data_types) {
            found.extend(data_type_warning("data_types", pattern));
        }
    }
    found
        .into_iter()
        .map(|warning| format!("warning: rule \"{}\": {warning}", rule.name))
        .collect()
}

fn walk<'c>(condition: &'c Condition, fields: &mut Vec<&'c FieldMatcher>, counts: &mut Vec<&'c CountCondition>) {
    match condition {
        Condition::Field(matcher) => fields.push(matcher),
        Condition::Count(count) => counts.push(count),
        Condition::All(all) | Condition::Any(all) => all.iter().for_each(|c| walk(c, fields, counts)),
        Condition::Not(inner) => walk(inner, fields, counts),
        Condition::Environment(_) => {}
    }
}

/// The patterns without a `*`: a wildcard is the operator saying "any".
fn literal(patterns: &[Pattern]) -> impl Iterator<Item = String> + '_ {
    patterns.iter().map(ToString::to_string).filter(|p| !p.contains('*'))
}

fn field_warning(field: Field, value: String) -> Option<String> {
    match field {
        Field::Event if !EVENTS.contains(&value.as_str()) => Some(match same_but_case(&value, EVENTS) {
            Some(known) => format!("event `{value}` never matches: Railz sends `{known}` (values compare exactly)"),
            None => format!(
                "event `{value}` is not a Railz event name ({}); ignore this if it names a push event",
                EVENTS.join(", ")
            ),
        }),
        Field::Service => same_but_case(&value, SERVICES)
            .filter(|known| *known != value)
            .map(|known| format!("service `{value}` never matches: Railz sends `{known}` (values compare exactly)")),
        Field::DataType => data_type_warning("data_type", value),
        _ => None,
    }
}

fn data_type_warning(key: &str, value: String) -> Option<String> {
    if DATA_TYPES.contains(&value.as_str()) {
        return None;
    }
    let near = DATA_TYPES.iter().find(|known| {
        let (known, value) = (known.to_lowercase(), value.to_lowercase());
        known == value || known == format!("{value}s") || format!("{known}s") == value
    })?;
    Some(format!(
        "{key} `{value}` is not a Railz data type: did you mean `{near}`? (values compare exactly)"
    ))
}

fn same_but_case<'k>(value: &str, known: &[&'k str]) -> Option<&'k str> {
    known.iter().copied().find(|k| k.eq_ignore_ascii_case(value))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::load_str;

    fn warn(rules: &str) -> Vec<String> {
        let text = format!(
            "channels:\n  ops:\n    slack: {{ webhook_url: 'https://hooks.slack.com/services/T0/B0/x' }}\nrules:\n{rules}"
        );
        warnings(&load_str(&text, Path::new("rules.yaml"), &|_| None).unwrap())
    }

    #[test]
    fn a_rule_that_can_never_work_as_meant_is_warned_about() {
        let found = warn(
            "  - name: r\n    notify: [ops]\n    when: { event: Data, service: Quickbooks, failed: { above: 0, data_types: [incomeStatement] } }\n",
        );
        assert_eq!(found.len(), 3, "{found:#?}");
        assert!(
            found[0].contains("event `Data` never matches: Railz sends `data`"),
            "{found:#?}"
        );
        assert!(found[1].contains("service `Quickbooks` never matches: Railz sends `quickbooks`"));
        assert!(
            found[2]
                .contains("data_types `incomeStatement` is not a Railz data type: did you mean `incomeStatements`?")
        );
        let silent = warn("  - name: quiet\n    notify: []\n    when: { failed: { above: 0 } }\n");
        assert_eq!(
            silent,
            [
                "warning: rule \"quiet\": notifies no channel: its alerts are only recorded (give `notify` or `defaults.notify`)"
            ]
        );
    }

    #[test]
    fn what_railz_sends_and_wildcards_are_not_warned_about() {
        let fine = warn(
            "  - name: r\n    notify: [ops]\n    when: { event: [data, connectionStatus], service: [xero, myOwnService, 'quick*'], data_type: billPaymentRequests, failed: { above: 0, data_types: ['*Statements', bills] } }\n",
        );
        assert!(fine.is_empty(), "{fine:#?}");
    }
}
