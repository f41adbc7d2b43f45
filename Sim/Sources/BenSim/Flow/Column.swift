/// A growable array of plain values behind one allocation, for the engines' structure-of-arrays state.
///
/// It exists for speed: element access is a pointer offset with no bounds, uniqueness or exclusivity checks
/// (the engines index only within `count`, which their own loops guarantee). Its owner frees it (`free()`),
/// exactly once; it is never copied out of its owner.
struct Column<Element: BitwiseCopyable> {
    private(set) var base: UnsafeMutablePointer<Element>
    private(set) var count: Int
    private(set) var capacity: Int

    init(repeating value: Element, count: Int) {
        capacity = max(count, 4)
        base = .allocate(capacity: capacity)
        base.initialize(repeating: value, count: capacity)
        self.count = count
    }

    init(_ values: [Element]) {
        let capacity = max(values.count, 4)
        let base = UnsafeMutablePointer<Element>.allocate(capacity: capacity)
        if !values.isEmpty { values.withUnsafeBufferPointer { base.initialize(from: $0.baseAddress!, count: values.count) } }
        self.base = base
        self.capacity = capacity
        count = values.count
    }

    subscript(i: Int) -> Element {
        get { base[i] }
        nonmutating set { base[i] = newValue }
    }

    mutating func append(_ value: Element) {
        if count == capacity { reserve(capacity * 2) }
        base[count] = value
        count += 1
    }

    mutating func reserve(_ wanted: Int) {
        guard wanted > capacity else { return }
        let grown = UnsafeMutablePointer<Element>.allocate(capacity: wanted)
        grown.update(from: base, count: count)
        base.deallocate()
        base = grown
        capacity = wanted
    }

    mutating func removeAll() { count = 0 }

    mutating func removeLast() -> Element {
        count -= 1
        return base[count]
    }

    var isEmpty: Bool { count == 0 }

    /// Bytes held, for the memory-per-node figure.
    var bytes: Int { capacity * MemoryLayout<Element>.stride }

    func toArray() -> [Element] { Array(UnsafeBufferPointer(start: base, count: count)) }

    func free() { base.deallocate() }
}
