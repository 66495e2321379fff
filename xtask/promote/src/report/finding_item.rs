//! One finding as a Markdown list item (location, code, message), shared by the report's own
//! section and the deploy and integration sections.

/// One finding as a list item: location, code, message.
pub fn render(finding: &crate::tools::Finding) -> String {
    format!(
        "- `{}` **{}** {}\n",
        crate::markdown::code(&finding.location()),
        crate::markdown::text(&finding.code),
        crate::markdown::text(&finding.message)
    )
}
