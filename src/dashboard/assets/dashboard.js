// The dashboard's only script: small enhancements; every page also works without it.

document.addEventListener('click', (event) => {
  const button = event.target.closest('[data-copy]')
  if (!button) return
  const source = document.getElementById(button.dataset.copy)
  if (!source) return
  const text = source.textContent
  const done = () => {
    button.textContent = 'Copied'
    setTimeout(() => (button.textContent = 'Copy'), 2000)
  }
  // The Clipboard API needs a secure context; plain-HTTP LAN installs fall back to a selection.
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, () => selectText(source))
  } else {
    selectText(source)
    if (document.execCommand('copy')) done()
  }
})

function selectText(element) {
  const range = document.createRange()
  range.selectNodeContents(element)
  const selection = window.getSelection()
  selection.removeAllRanges()
  selection.addRange(range)
}

document.addEventListener('submit', (event) => {
  const message = event.target.dataset.confirm
  if (message && !window.confirm(message)) event.preventDefault()
})

// The create-key form shows only the fields of the chosen kind.
function showKindFields(form) {
  const kind = form.querySelector('input[name=kind]:checked')
  if (!kind) return
  for (const part of form.querySelectorAll('[data-kind]')) part.hidden = part.dataset.kind !== kind.value
}

// The create-source form shows only the secret fields the chosen tool takes.
function showPresetFields(form) {
  const preset = form.querySelector('select[name=preset]')
  if (!preset) return
  for (const part of form.querySelectorAll('[data-presets]')) part.hidden = !part.dataset.presets.split(' ').includes(preset.value)
}

document.addEventListener('change', (event) => {
  if (event.target.name === 'kind' && event.target.form) showKindFields(event.target.form)
  if (event.target.name === 'preset' && event.target.form) showPresetFields(event.target.form)
})

// The embed page fills a pasted key into its snippets, in the page only.
document.addEventListener('input', (event) => {
  const placeholder = event.target.dataset.fillKey
  if (!placeholder) return
  const key = event.target.value.trim() || placeholder
  for (const code of document.querySelectorAll('code[data-template]')) code.textContent = code.dataset.template.split(placeholder).join(key)
})

document.addEventListener('DOMContentLoaded', () => {
  for (const form of document.querySelectorAll('form#create-key')) showKindFields(form)
  for (const form of document.querySelectorAll('form#create-source')) showPresetFields(form)
})

// The deals board: a card dropped on another column is moved by its own Move form (the stage picked,
// the form posted with its CSRF token), so the server moves it exactly as without a script; the
// board is then redrawn from the page the server answers with. Keyboard and no-script users keep the
// select and its Move button.
let draggedDeal = null

function dropColumn(event) {
  return draggedDeal && event.target.closest ? event.target.closest('.column[data-stage]') : null
}

function clearDropTargets() {
  for (const column of document.querySelectorAll('.column.drop-target')) column.classList.remove('drop-target')
}

document.addEventListener('dragstart', (event) => {
  const card = event.target.closest ? event.target.closest('.deal[draggable=true]') : null
  if (!card) return
  draggedDeal = card
  event.dataTransfer.effectAllowed = 'move'
  event.dataTransfer.setData('text/plain', card.dataset.deal)
  card.classList.add('dragging')
})

document.addEventListener('dragend', () => {
  if (draggedDeal) draggedDeal.classList.remove('dragging')
  draggedDeal = null
  clearDropTargets()
})

document.addEventListener('dragover', (event) => {
  const column = dropColumn(event)
  if (!column) return
  event.preventDefault()
  event.dataTransfer.dropEffect = 'move'
  if (!column.classList.contains('drop-target')) {
    clearDropTargets()
    column.classList.add('drop-target')
  }
})

document.addEventListener('drop', (event) => {
  const column = dropColumn(event)
  if (!column) return
  event.preventDefault()
  const card = draggedDeal
  const form = card.querySelector('form.move')
  const select = form && form.querySelector('select[name=stage]')
  clearDropTargets()
  if (!select || select.value === column.dataset.stage) return
  select.value = column.dataset.stage
  card.classList.add('moving')
  column.appendChild(card)
  moveDeal(form)
})

function moveDeal(form) {
  const csrf = form.querySelector('input[name=_csrf]')
  fetch(form.action, {
    method: 'POST',
    body: new URLSearchParams(new FormData(form)),
    headers: { 'x-csrf-token': csrf ? csrf.value : '' },
    credentials: 'same-origin',
  })
    .then((response) => response.text())
    .then((text) => {
      // The answer is a whole page (the board with "Deal moved.", or an error page): its main part replaces ours.
      const main = new DOMParser().parseFromString(text, 'text/html').querySelector('main')
      if (!main) throw new Error('no page')
      document.querySelector('main').replaceWith(main)
    })
    .catch(() => form.submit())
}

// An upload form (the contacts import) shows its upload's progress, then the page the server answers.
document.addEventListener('submit', (event) => {
  const form = event.target
  if (!form.matches('form[data-upload]') || event.defaultPrevented) return
  event.preventDefault()
  const progress = form.querySelector('progress')
  const button = form.querySelector('button[type=submit]')
  progress.hidden = false
  button.disabled = true
  const request = new XMLHttpRequest()
  request.open('POST', form.action)
  request.upload.addEventListener('progress', (e) => {
    if (e.lengthComputable) progress.value = Math.round((e.loaded / e.total) * 100)
  })
  // Uploaded: the server is storing the rows now; an indeterminate bar says so.
  request.upload.addEventListener('load', () => progress.removeAttribute('value'))
  request.addEventListener('load', () => {
    document.open()
    document.write(request.responseText)
    document.close()
  })
  request.addEventListener('error', () => {
    button.disabled = false
    progress.hidden = true
    window.alert('The upload failed; check the connection and try again.')
  })
  request.send(new FormData(form))
})
