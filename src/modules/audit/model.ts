/** Schemas of the audit-log endpoint, each paired with its type. */
import { t } from 'elysia'
import { AUDIT_ACTIONS } from '../../db/audit'
import { ACTOR_TYPES } from '../../lib/actor'
import { component, literalUnion } from '../../lib/model-fields'
import { pageQuery, pageSchema } from '../../lib/pagination'

export namespace AuditModel {
  export const entry = component(
    'AuditEntry',
    t.Object(
      {
        id: t.String({ format: 'uuid' }),
        object: t.Literal('audit_entry'),
        action: t.String({ description: `What was done: ${AUDIT_ACTIONS.map((a) => `\`${a}\``).join(', ')}.` }),
        actor: t.Object(
          {
            type: literalUnion(ACTOR_TYPES),
            id: t.Union([t.String(), t.Null()], { description: "The operator's or API key's id; null for the CLI and the system." }),
            label: t.String({ description: "The operator's email, the key's prefix (`ask_sk_3fA9…`), `cli` or `system`." }),
          },
          { description: 'Who did it.' },
        ),
        ip: t.Union([t.String(), t.Null()], { description: 'The client IP of the request (see ASKAD_TRUSTED_PROXIES); null outside a request.' }),
        target: t.Object(
          {
            type: t.Union([t.String(), t.Null()], { description: 'What it was done to: `api_key`, `webhook_endpoint`, `contact`, `member`, `workspace`, …' }),
            id: t.Union([t.String(), t.Null()]),
          },
          { description: 'What it was done to.' },
        ),
        details: t.Record(t.String(), t.Unknown(), {
          description:
            'Small facts about the action (a new name, a row count, the filters of an export, an email or search filter noted but its value withheld); never secrets or personal data.',
        }),
        created_at: t.String({ format: 'date-time' }),
      },
      { description: 'One recorded action.' },
    ),
  )
  export type entry = typeof entry.static

  export const listQuery = t.Object({
    ...pageQuery,
    action: t.Optional(t.String({ description: 'Only entries of this action, e.g. `key.created`.' })),
    since: t.Optional(t.String({ description: 'Only entries at or after this RFC 3339 time.' })),
  })
  export type listQuery = typeof listQuery.static

  export const list = pageSchema(entry)
}
