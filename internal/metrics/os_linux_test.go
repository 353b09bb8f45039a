package metrics

const isLinux = true
