using './modules/child.bicep'

param optional = 'x'
