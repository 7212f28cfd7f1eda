"""The platform-free core: vocabulary, registry, dispatcher, clock and text helpers."""
