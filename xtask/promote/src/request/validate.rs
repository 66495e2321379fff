//! Checking a parsed request against the registry: the component, the stages and the group
//! must be exactly what xtask.toml and the form offer, and the promotion must be to the next
//! stage. Anything else, however close, is refused with the reason; an unexpected stage is
//! never read as a default. Pure: sections and config in, a request or a rejection out.

use super::form::{CURRENT_STAGES, FieldId, TARGET_STAGES};
use super::parse::{Rejection, Sections, shown};
use crate::config::{Component, Config, closest_names};
use crate::vocab::Stage;

/// A request that names a registered component and a legal promotion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub component: String,
    pub from: Stage,
    pub to: Stage,
}

/// A single-line value of a required field.
fn single_line(sections: &Sections, field: FieldId) -> Result<&str, Rejection> {
    let value = sections
        .value(field)
        .ok_or_else(|| Rejection::new(Some(field), "is empty: choose one of the form's options"))?;
    if value.contains('\n') {
        return Err(Rejection::new(
            Some(field),
            format!("{} spans several lines: give one value", shown(value)),
        ));
    }
    Ok(value)
}

/// Refusals that say more than "unknown": look-alike letters and paths.
fn suspicious(field: FieldId, value: &str) -> Option<Rejection> {
    if let Some(c) = value.chars().find(|c| !c.is_ascii()) {
        return Some(Rejection::new(
            Some(field),
            format!(
                "{} contains {}, which is not ASCII: look-alike letters are refused",
                shown(value),
                shown(&c.to_string())
            ),
        ));
    }
    if value.contains('/') || value.contains('\\') || value.contains("..") {
        return Some(Rejection::new(
            Some(field),
            format!("{} looks like a path: name a component", shown(value)),
        ));
    }
    None
}

fn component<'c>(config: &'c Config, sections: &Sections) -> Result<&'c Component, Rejection> {
    let field = FieldId::Component;
    let value = single_line(sections, field)?;
    // Display names may hold `/` or non-ASCII, so an exact match on one comes first.
    if let Some(component) = config
        .components
        .iter()
        .find(|c| c.name == value || c.display_name == value)
    {
        return Ok(component);
    }
    if let Some(rejection) = suspicious(field, value) {
        return Err(rejection);
    }
    let suggestions = closest_names(value, config.components.iter().map(|c| c.name.as_str()));
    let hint = if suggestions.is_empty() {
        String::new()
    } else {
        format!(" (did you mean {}?)", suggestions.join(", "))
    };
    Err(Rejection::new(
        Some(field),
        format!(
            "{} is not a component in xtask.toml{hint}; the form lists every one",
            shown(value)
        ),
    ))
}

fn stage(sections: &Sections, field: FieldId, allowed: &[Stage]) -> Result<Stage, Rejection> {
    let value = single_line(sections, field)?;
    if let Some(stage) = allowed
        .iter()
        .find(|s| s.title() == value || s.id() == value)
    {
        return Ok(*stage);
    }
    if let Some(rejection) = suspicious(field, value) {
        return Err(rejection);
    }
    Err(Rejection::new(
        Some(field),
        format!(
            "{} is not one of {}",
            shown(value),
            allowed
                .iter()
                .map(|s| format!("`{}`", s.title()))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    ))
}

/// Checks the request's identity fields. The current stage is checked against MATURITY.md by
/// the caller (`check_current_stage`), which is the one part that reads a file.
pub fn validate(config: &Config, sections: &Sections) -> Result<Request, Rejection> {
    let component = component(config, sections)?;
    let from = stage(sections, FieldId::CurrentStage, &CURRENT_STAGES)?;
    let to = stage(sections, FieldId::TargetStage, &TARGET_STAGES)?;
    if from.next() != Some(to) {
        return Err(Rejection::new(
            Some(FieldId::TargetStage),
            format!(
                "{from} → {to} is not a promotion: components move one stage at a time ({from} → {})",
                from.next().map_or("none", Stage::title)
            ),
        ));
    }
    let group = single_line(sections, FieldId::FunctionalGroup)?;
    if !config.groups.iter().any(|g| g == group) {
        return Err(
            suspicious(FieldId::FunctionalGroup, group).unwrap_or_else(|| {
                Rejection::new(
                    Some(FieldId::FunctionalGroup),
                    format!("{} is not a group in xtask.toml", shown(group)),
                )
            }),
        );
    }
    if group != component.group {
        return Err(Rejection::new(
            Some(FieldId::FunctionalGroup),
            format!(
                "{} is in {}, not {}",
                component.name,
                shown(&component.group),
                shown(group)
            ),
        ));
    }
    if sections.value(FieldId::Justification).is_none() {
        return Err(Rejection::new(
            Some(FieldId::Justification),
            "is empty: say why the component is ready",
        ));
    }
    Ok(Request {
        component: component.name.clone(),
        from,
        to,
    })
}

/// The request's current stage must be the one its MATURITY.md declares.
pub fn check_current_stage(
    request: &Request,
    declared: Stage,
    maturity: &str,
) -> Result<(), Rejection> {
    if request.from == declared {
        return Ok(());
    }
    Err(Rejection::new(
        Some(FieldId::CurrentStage),
        format!(
            "the request says {}, but {} says {declared}",
            request.from,
            shown(maturity)
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::parse::{parse, tests::form_body};

    fn check(body: &str) -> Result<Request, Rejection> {
        validate(&crate::testutil::registry(), &parse(body).unwrap())
    }

    fn with(field: &str, value: &str, replacement: &str) -> String {
        form_body("carbon").replace(
            &format!("### {field}\n\n{value}"),
            &format!("### {field}\n\n{replacement}"),
        )
    }

    #[test]
    fn a_well_formed_request_names_a_component_and_the_next_stage() {
        let request = check(&form_body("carbon")).unwrap();
        assert_eq!(
            request,
            Request {
                component: "carbon".into(),
                from: Stage::Development,
                to: Stage::Staging
            }
        );
        // The display name, exactly, is accepted too.
        assert_eq!(check(&form_body("Carbon")).unwrap().component, "carbon");
    }

    #[test]
    fn hostile_component_names_are_rejected_with_the_reason() {
        for (value, reason) in [
            ("$(id)", "is not a component"),
            ("`id`", "is not a component"),
            ("\"; id; \"", "is not a component"),
            ("'; require(\"fs\").rmSync(\"/\"); //", "looks like a path"),
            ("../../etc/passwd", "looks like a path"),
            ("c\u{430}rbon", "not ASCII"),
            ("ｃａｒｂｏｎ", "not ASCII"),
            ("carbon\u{200b}", "not ASCII"),
            ("carbon\nllm", "spans several lines"),
            ("CARBON", "is not a component"),
            (" carbon2", "is not a component"),
        ] {
            let error = check(&form_body(value)).unwrap_err();
            assert_eq!(error.field, Some(FieldId::Component), "{value:?}: {error}");
            assert!(error.message.contains(reason), "{value:?}: {error}");
            // The value is quoted as an inert code span, never raw.
            assert!(error.message.starts_with('`'), "{error}");
        }
    }

    #[test]
    fn stages_must_be_form_options_and_a_single_step() {
        let error = check(&with("Target Stage", "Staging", "Production")).unwrap_err();
        assert!(error.message.contains("one stage at a time"), "{error}");
        let error = check(&with("Target Stage", "Staging", "Staging2")).unwrap_err();
        assert!(
            error
                .message
                .contains("is not one of `Staging`, `Production`"),
            "{error}"
        );
        let error = check(&with("Current Stage", "Development", "Production")).unwrap_err();
        assert_eq!(error.field, Some(FieldId::CurrentStage));
        let error = check(&with("Target Stage", "Staging", "_No response_")).unwrap_err();
        assert!(error.message.contains("is empty"), "{error}");
        let error = check(&with("Target Stage", "Staging", "St\u{430}ging")).unwrap_err();
        assert!(error.message.contains("not ASCII"), "{error}");
        assert_eq!(
            check(&with("Target Stage", "Staging", "staging"))
                .unwrap()
                .to,
            Stage::Staging
        );
    }

    #[test]
    fn the_group_must_be_the_components_own() {
        let error = check(&with(
            "Functional Group",
            "Core Infrastructure",
            "AI/Agent Systems",
        ))
        .unwrap_err();
        assert!(error.message.contains("carbon is in"), "{error}");
        let error = check(&with("Functional Group", "Core Infrastructure", "Core")).unwrap_err();
        assert!(error.message.contains("not a group"), "{error}");
    }

    #[test]
    fn the_current_stage_must_match_maturity_md() {
        let request = check(&form_body("carbon")).unwrap();
        assert!(check_current_stage(&request, Stage::Development, "MATURITY.md").is_ok());
        let error = check_current_stage(&request, Stage::Staging, "MATURITY.md").unwrap_err();
        assert!(error.message.contains("says Staging"), "{error}");
    }
}
