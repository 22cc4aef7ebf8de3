//! `--log-opt tag=…`: Docker's tag template, the part of Go templates it documents
//! (`{{.ID}}`, `{{.FullID}}`, `{{.Name}}`, `{{.ImageID}}`, `{{.ImageFullID}}`, `{{.ImageName}}`,
//! `{{.DaemonName}}`) around literal text. It is checked when the command line is read, and
//! rendered once the container has its ID.

/// What a tag can name about a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagInfo {
    /// 64 hex digits.
    pub id: String,
    pub name: String,
    /// The image as the user named it.
    pub image_name: String,
    /// The image's ID (hex).
    pub image_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Id,
    FullId,
    Name,
    ImageId,
    ImageFullId,
    ImageName,
    DaemonName,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Field(Field),
}

/// A parsed tag template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

impl Default for Template {
    /// Docker's default tag: the short container ID.
    fn default() -> Self {
        Template {
            parts: vec![Part::Field(Field::Id)],
        }
    }
}

impl Template {
    /// Read `text`; an error says what is wrong and what is accepted.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                parts.push(Part::Text(rest[..start].to_string()));
            }
            let after = &rest[start + 2..];
            let end = after
                .find("}}")
                .ok_or_else(|| format!("tag '{text}': '{{{{' without '}}}}'"))?;
            parts.push(Part::Field(field(after[..end].trim()).ok_or_else(
                || {
                    format!(
                        "tag '{text}': the built-in engine knows {{{{.ID}}}}, {{{{.FullID}}}}, \
                     {{{{.Name}}}}, {{{{.ImageID}}}}, {{{{.ImageFullID}}}}, {{{{.ImageName}}}} \
                     and {{{{.DaemonName}}}}, not '{}'",
                        after[..end].trim()
                    )
                },
            )?));
            rest = &after[end + 2..];
        }
        if rest.contains("}}") {
            return Err(format!("tag '{text}': '}}}}' without '{{{{'"));
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(Template { parts })
    }

    pub fn render(&self, info: &TagInfo) -> String {
        let short = |s: &str| s.chars().take(12).collect::<String>();
        self.parts
            .iter()
            .map(|part| match part {
                Part::Text(t) => t.clone(),
                Part::Field(Field::Id) => short(&info.id),
                Part::Field(Field::FullId) => info.id.clone(),
                Part::Field(Field::Name) => info.name.clone(),
                Part::Field(Field::ImageId) => short(&info.image_id),
                Part::Field(Field::ImageFullId) => info.image_id.clone(),
                Part::Field(Field::ImageName) => info.image_name.clone(),
                Part::Field(Field::DaemonName) => "atomic".to_string(),
            })
            .collect()
    }
}

fn field(action: &str) -> Option<Field> {
    Some(match action.strip_prefix('.')? {
        "ID" => Field::Id,
        "FullID" => Field::FullId,
        "Name" => Field::Name,
        "ImageID" => Field::ImageId,
        "ImageFullID" => Field::ImageFullId,
        "ImageName" => Field::ImageName,
        "DaemonName" => Field::DaemonName,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> TagInfo {
        TagInfo {
            id: format!("0123456789ab{}", "c".repeat(52)),
            name: "web".into(),
            image_name: "localhost/httpd:1".into(),
            image_id: format!("fedcba987654{}", "d".repeat(52)),
        }
    }

    #[test]
    fn fields_render_as_docker_renders_them() {
        let cases = [
            ("{{.ID}}", "0123456789ab".to_string()),
            ("{{.FullID}}", info().id),
            ("{{.Name}}", "web".into()),
            ("{{ .ImageName }}", "localhost/httpd:1".into()),
            ("{{.ImageID}}", "fedcba987654".into()),
            ("{{.ImageFullID}}", info().image_id),
            ("{{.DaemonName}}", "atomic".into()),
            ("app/{{.Name}}-{{.ID}}", "app/web-0123456789ab".to_string()),
            ("plain", "plain".into()),
            ("", "".into()),
        ];
        for (template, want) in cases {
            let parsed = Template::parse(template).unwrap_or_else(|e| panic!("{template}: {e}"));
            assert_eq!(parsed.render(&info()), want, "{template}");
        }
        assert_eq!(Template::default().render(&info()), "0123456789ab");
    }

    #[test]
    fn unknown_fields_and_broken_braces_are_errors() {
        for bad in [
            "{{.Nope}}",
            "{{Name}}",
            "{{.Name | upper}}",
            "{{.Name",
            "x}}",
            "{{json .}}",
        ] {
            let err = Template::parse(bad).unwrap_err();
            assert!(err.starts_with(&format!("tag '{bad}'")), "{bad}: {err}");
        }
        assert!(
            Template::parse("{{.Nope}}")
                .unwrap_err()
                .contains("{{.ImageName}}")
        );
    }
}
