/** lib/csv.ts: RFC 4180 cells and lines, formula defusing, and the parser the import reads with. */
import { describe, expect, test } from 'bun:test'
import { csvCell, csvLine, CsvSyntaxError, parseCsv, undefuse } from '../../src/lib/csv'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const parse = (text: string) => [...parseCsv(text)].map((r) => r.fields)

describe('cells', () => {
  test('quoted only when needed; quotes doubled; CR and LF kept inside quotes', () => {
    expect(csvCell('plain')).toBe('plain')
    expect(csvCell('a,b')).toBe('"a,b"')
    expect(csvCell('say "hi"')).toBe('"say ""hi"""')
    expect(csvCell('one\r\ntwo')).toBe('"one\r\ntwo"')
    expect(csvCell('Zoë 東京')).toBe('Zoë 東京')
  })

  test('null is empty, numbers as text, objects as JSON', () => {
    expect(csvCell(null)).toBe('')
    expect(csvCell(undefined)).toBe('')
    expect(csvCell(3)).toBe('3')
    expect(csvCell({ a: [1, 'x'] })).toBe('"{""a"":[1,""x""]}"')
  })

  test('formula starts get a quote in front, inside quotes (OWASP)', () => {
    for (const start of ['=', '+', '-', '@', '\t', '\r']) expect(csvCell(`${start}1+1`)).toBe(`"'${start}1+1"`)
    expect(csvCell('=A1,"x"')).toBe(`"'=A1,""x"""`)
    expect(csvCell('a=1')).toBe('a=1')
  })

  test('a line ends in CRLF', () => {
    expect(csvLine(['a', null, 'b,c'])).toBe('a,,"b,c"\r\n')
  })

  test('undefuse takes our quote off, and nothing else', () => {
    expect(undefuse("'+1555")).toBe('+1555')
    expect(undefuse("'=x")).toBe('=x')
    expect(undefuse("'hello")).toBe("'hello")
    expect(undefuse("'")).toBe("'")
  })
})

describe('parser', () => {
  test('reads back what the writer writes', () => {
    const values = ['a', 'b,c', 'say "hi"', 'one\r\ntwo', '', 'Zoë']
    expect(parse(csvLine(values) + csvLine(['x']))).toEqual([values, ['x']])
  })

  test('LF or CR line ends, a BOM, blank lines, and no final line end', () => {
    expect(parse('\uFEFFa,b\n\n1,2\r3,4')).toEqual([
      ['a', 'b'],
      ['1', '2'],
      ['3', '4'],
    ])
  })

  test('records carry the line they start on', () => {
    expect([...parseCsv('a\n"x\ny",z\nb\n')].map((r) => r.line)).toEqual([1, 2, 4])
  })

  test('a quote inside an unquoted field is text; an unclosed quoted field is an error at its line', () => {
    expect(parse('a"b,c\n')).toEqual([['a"b', 'c']])
    expect(() => parse('ok\n"open,\n')).toThrow(CsvSyntaxError)
    try {
      parse('ok\n"open,\n')
    } catch (error) {
      expect((error as CsvSyntaxError).line).toBe(2)
    }
  })

  test('empty fields and trailing commas', () => {
    expect(parse(',a,\n')).toEqual([['', 'a', '']])
  })
})
