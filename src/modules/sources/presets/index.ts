/** Every tool's preset by name: the inbound endpoint looks a source's preset up here. */
import { facebook } from './facebook'
import { flatPreset } from './flat'
import { hubspot } from './hubspot'
import { typeform } from './typeform'
import type { Preset, PresetName } from './types'

/** The presets, by the name a source is created with. */
export const PRESETS: Record<PresetName, Preset> = {
  generic: flatPreset('generic', 'Any tool (JSON or form)'),
  zapier: flatPreset('zapier', 'Zapier (Webhooks by Zapier)'),
  make: flatPreset('make', 'Make (HTTP module)'),
  n8n: flatPreset('n8n', 'n8n (HTTP Request node)'),
  hubspot,
  typeform,
  facebook,
}
