import LiveGateCore

extension SkuPolicy {
    /// A policy with every field of ``SkuPolicy/fields`` moved off its default to a valid value: `default + 1`, or
    /// `default - 1` where that is what fits (two trend windows in `horizon`). No substitute.
    ///
    /// A test that sends this through a path (config, command, replay) and gets it back whole shows that the path
    /// covers every field of the table, including any added later.
    public static func everyFieldChanged(horizon: Int64 = 10 * SkuPolicy.minute) throws -> SkuPolicy {
        var policy = SkuPolicy()
        for field in SkuPolicy.fields {
            var up = policy
            try up.set(field, to: policy.value(of: field) + 1)
            if (try? up.validate(horizon: horizon)) != nil {
                policy = up
            } else {
                try policy.set(field, to: policy.value(of: field) - 1)
            }
        }
        return policy
    }

    /// The policy's fields as the members of a JSON object (no braces), by name, or by each field's first
    /// deprecated name where it has one.
    public func jsonMembers(deprecatedNames: Bool = false) -> String {
        SkuPolicy.fields.map { field in
            let name = deprecatedNames ? field.deprecatedNames.first ?? field.name : field.name
            return "\"\(name)\": \(value(of: field))"
        }.joined(separator: ", ")
    }
}
