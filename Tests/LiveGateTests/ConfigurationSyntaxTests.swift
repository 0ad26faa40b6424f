import Foundation
import LiveGate
import Testing

/// Config syntax errors name the line, the column and what was expected (issue #17): Foundation's
/// JSON5 decoder alone says only "The given data was not valid JSON.".
struct ConfigurationSyntaxTests {
    @Test(arguments: [
        // A missing comma: reported where the next key starts, naming the value before it.
        ("{\n  port: 8080\n  host: \"0.0.0.0\",\n}", "line 3, column 3: expected ',' or '}' after the value of 'port' (ending at line 2, column 13), found 'h': a missing comma?"),
        ("{ skus: [\n  { id: 'a' }\n  { id: 'b' },\n] }", "line 3, column 3: expected ',' or ']' after element 1 of the array"),
        // An unclosed string: reported where it opens.
        ("{\n  tokenSecret: \"abc,\n  port: 1,\n}", "line 2, column 16: unclosed string: the \" here has no closing quote on its line"),
        ("{ host: 'x", "line 1, column 9: unclosed string"),
        // A stray or mismatched brace.
        ("{\n  port: 1,\n}\n}", "line 4, column 1: a stray '}' after the end of the top-level value"),
        ("{\n  rooms: [\n    { id: 'r' }\n  },\n}", "line 4, column 3: found '}' where ']' should close the array opened at line 2, column 10"),
        ("{\n  http: {\n    maxHeadBytes: 1,\n", "line 4, column 1: the object opened at line 2, column 9 is not closed"),
        // Bad numbers.
        ("{\n  port: 80.8.0,\n}", "line 2, column 9: bad number '80.8.0': unexpected '.' in the number"),
        ("{ port: 1e, }", "line 1, column 9: bad number '1e': expected digits after the exponent"),
        ("{ port: 0080 }", "line 1, column 9: bad number '0080': a leading zero"),
        ("{ port: 12ab }", "line 1, column 9: bad number '12ab'"),
        // Others users meet.
        ("{ port: 1,, }", "line 1, column 11: expected a key, found ','"),
        ("{ logLevel: info }", "line 1, column 13: expected a value for 'logLevel', found the bare word 'info'"),
        ("{ port 1 }", "line 1, column 8: expected ':' after the key 'port'"),
        ("{ /* note\n port: 1 }", "line 1, column 3: unclosed comment"),
        ("{ name: '联名卫衣', port: 1 x }", "line 1, column 25: expected ',' or '}'"),
    ])
    func syntaxErrorsNameLineColumnAndWhatWasExpected(text: String, message: String) {
        do {
            _ = try Configuration.parse(Data(text.utf8))
            Issue.record("accepted \(text)")
        } catch {
            #expect("\(error)".contains("not valid JSON5: " + message), "\(error)")
        }
    }

    /// Every JSON5 form the diagnosis accepts is accepted by the decoder too: no false alarm on a
    /// valid file (the shipped one has comments, unquoted keys, trailing commas and CJK text).
    @Test func validJSON5IsNotDiagnosed() throws {
        let shipped = ConfigurationTests.repositoryRoot.appendingPathComponent("Config/livegate.json5")
        #expect(JSON5Diagnosis.diagnose(Array(try Data(contentsOf: shipped))) == nil)
        let text = """
            // comment
            { a: 1, 'b': "two", c: [1, 2.5, -3, +4, .5, 5., 0x1F, 1e3, Infinity, -Infinity, NaN, null, true,],
              /* block */ d: { e: 'it\\'s', f: "line\\
            continued", g: '\\u4e2d\\x41' }, $h_1: [], 名: '卫衣', }
            """
        #expect(JSON5Diagnosis.diagnose(Array(text.utf8)) == nil)
        let value = try JSONValue.parseJSON5(Data(text.utf8))
        guard case .object(let object) = value else { Issue.record("not an object"); return }
        #expect(object.count == 6)
    }
}
