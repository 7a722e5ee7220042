using './modules/child.bicep'

param optional = 'x'
param unknown = 1
param required = [
  'unclosed'
