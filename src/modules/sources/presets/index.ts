/** Every tool's preset by name: the inbound endpoint looks a source's preset up here. */
import { refuse } from './body'
import { flatPreset } from './flat'
import type { Preset, PresetName } from './types'

function notYet(name: PresetName, title: string): Preset {
  return {
    name,
    title,
    signingSecret: 'optional',
    verifyToken: false,
    handle: () => refuse(422, 'validation_failed', `The ${title} preset is not available yet.`),
  }
}

/** The presets, by the name a source is created with. */
export const PRESETS: Record<PresetName, Preset> = {
  generic: flatPreset('generic', 'Any tool (JSON or form)'),
  zapier: notYet('zapier', 'Zapier (Webhooks by Zapier)'),
  make: notYet('make', 'Make (HTTP module)'),
  n8n: notYet('n8n', 'n8n (HTTP Request node)'),
  hubspot: notYet('hubspot', 'HubSpot (workflow webhook)'),
  typeform: notYet('typeform', 'Typeform (webhook)'),
  facebook: notYet('facebook', 'Facebook Lead Ads'),
}
