//! Tags: definitions (admins), and values on workspaces and projects, validated against them.

use serde_json::json;

use crate::audit::EventType;
use crate::authz;
use crate::change::{Change, Changes};
use crate::cmd::event;
use crate::ctx::Ctx;
use crate::error::DomainError;
use crate::model::Target;
use crate::org::{anchored, TagDefinition, TagKey, TagRule, TagTarget, Tags};
use crate::role::AdminRole;
use crate::state::State;

/// Creates or replaces a tag definition (admins only). Values already set stay as they are;
/// they are checked against the new rule the next time they are set.
pub fn define_tag(state: &State, ctx: &Ctx, def: TagDefinition) -> Result<Changes, DomainError> {
    if authz::actor_admin_role(state, ctx)? != AdminRole::Admin {
        return Err(DomainError::forbidden("only admins define tags"));
    }
    let bad = |m: String| Err(DomainError::invalid("tag.invalid", m));
    match &def.rule {
        TagRule::Values(values) => {
            if values.is_empty() || values.len() > 1000 {
                return bad("a list of allowed values has 1 to 1000 entries".into());
            }
            let probe = TagDefinition { rule: TagRule::Any, ..def.clone() };
            for v in values {
                probe.validate(v)?;
            }
        }
        TagRule::Pattern(p) => {
            if p.len() > 1000 {
                return bad("a pattern is at most 1000 characters".into());
            }
            if let Err(e) = anchored(p) {
                return bad(format!("the pattern does not compile: {e}"));
            }
        }
        TagRule::Any => {}
    }
    if let Some(d) = &def.default {
        def.validate(d)?;
    }
    let existing = state.tag_definition(&def.key);
    if existing.is_some_and(|e| TagDefinition { created_at: e.created_at, ..def.clone() } == *e) {
        return Ok(Changes::default());
    }
    let def = TagDefinition { created_at: existing.map_or(ctx.now, |e| e.created_at), ..def };
    let details =
        json!({"definition": serde_json::to_value(&def).unwrap_or_default(), "replaced": existing.is_some()});
    Ok(Changes {
        events: vec![event(state, ctx, EventType::TagDefined, None, Some(def.key.to_string()), details)],
        changes: vec![Change::PutTagDefinition(def)],
    })
}

/// Removes a tag definition (admins only).
pub fn remove_tag_definition(state: &State, ctx: &Ctx, key: &TagKey) -> Result<Changes, DomainError> {
    if authz::actor_admin_role(state, ctx)? != AdminRole::Admin {
        return Err(DomainError::forbidden("only admins define tags"));
    }
    if state.tag_definition(key).is_none() {
        return Err(DomainError::not_found("tag.not_found", format!("no tag '{key}' is defined")));
    }
    Ok(Changes {
        events: vec![event(
            state,
            ctx,
            EventType::TagDefinitionRemoved,
            None,
            Some(key.to_string()),
            json!({}),
        )],
        changes: vec![Change::DeleteTagDefinition(key.clone())],
    })
}

/// The tags a new workspace or project gets: each given tag must be defined for the target kind,
/// allowed to the actor and valid; defaults fill in what is not given; a mandatory tag without
/// value or default is refused.
pub fn resolve_tags(
    state: &State,
    kind: TagTarget,
    given: &Tags,
    admin_area: bool,
) -> Result<Tags, DomainError> {
    let mut tags = Tags::new();
    for (key, value) in given {
        let def = definition_for(state, kind, key)?;
        if def.restricted && !admin_area {
            return Err(restricted(key));
        }
        def.validate(value)?;
        tags.insert(key.clone(), value.clone());
    }
    let mut missing = Vec::new();
    for def in state.tag_definitions().filter(|d| d.target == kind) {
        if tags.contains_key(&def.key) {
            continue;
        }
        match &def.default {
            Some(d) => {
                tags.insert(def.key.clone(), d.clone());
            }
            None if def.mandatory => missing.push(def.key.to_string()),
            None => {}
        }
    }
    if !missing.is_empty() {
        return Err(DomainError::invalid(
            "tag.mandatory_missing",
            format!("every {} must carry the tag(s) {}", kind.as_str(), missing.join(", ")),
        ));
    }
    Ok(tags)
}

/// Sets (`Some`) or removes (`None`) a tag on a workspace or project. Managers may; restricted
/// tags need the admin area; mandatory tags cannot be removed.
pub fn set_tag(
    state: &State,
    ctx: &Ctx,
    target: &Target,
    key: &TagKey,
    value: Option<String>,
) -> Result<Changes, DomainError> {
    let (ws, access) = authz::visible_workspace(state, ctx, target.workspace())?;
    let kind = if target.is_project() { TagTarget::Project } else { TagTarget::Workspace };
    let current = match target {
        Target::Workspace(_) => &ws.tags,
        Target::Project(w, p) => {
            &state
                .project(w, p)
                .ok_or_else(|| {
                    DomainError::not_found("project.not_found", format!("project '{p}' not found in '{w}'"))
                })?
                .tags
        }
    };
    if !access.manage {
        return Err(DomainError::forbidden(format!("only managers of '{}' set its tags", ws.id)));
    }
    let def = definition_for(state, kind, key)?;
    if def.restricted && !authz::actor_admin_role(state, ctx)?.manages_workspaces() {
        return Err(restricted(key));
    }
    let from = current.get(key).cloned();
    if let Some(v) = &value {
        def.validate(v)?;
    } else if def.mandatory {
        return Err(DomainError::rule(
            "tag.mandatory",
            format!("tag '{key}' is mandatory and cannot be removed"),
        ));
    }
    if from == value {
        return Ok(Changes::default());
    }
    let mut tags = current.clone();
    match &value {
        Some(v) => tags.insert(key.clone(), v.clone()),
        None => tags.remove(key),
    };
    let change = match target {
        Target::Workspace(_) => Change::UpdateWorkspace(crate::model::Workspace { tags, ..ws.clone() }),
        Target::Project(w, p) => {
            let project = state
                .project(w, p)
                .ok_or_else(|| DomainError::not_found("project.not_found", "project not found"))?;
            Change::UpdateProject(crate::model::Project { tags, ..project.clone() })
        }
    };
    let ty = if value.is_some() { EventType::TagSet } else { EventType::TagRemoved };
    Ok(Changes {
        events: vec![event(
            state,
            ctx,
            ty,
            Some(target),
            Some(key.to_string()),
            json!({"key": key, "from": from, "value": value}),
        )],
        changes: vec![change],
    })
}

fn definition_for<'a>(
    state: &'a State,
    kind: TagTarget,
    key: &TagKey,
) -> Result<&'a TagDefinition, DomainError> {
    state.tag_definition(key).filter(|d| d.target == kind).ok_or_else(|| {
        DomainError::invalid("tag.unknown", format!("no tag '{key}' is defined for {}s", kind.as_str()))
    })
}

fn restricted(key: &TagKey) -> DomainError {
    DomainError::Forbidden {
        code: "tag.restricted",
        message: format!("tag '{key}' is restricted to the admin area"),
    }
}
