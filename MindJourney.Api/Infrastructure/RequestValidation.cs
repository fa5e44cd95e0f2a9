using System.ComponentModel.DataAnnotations;
using System.Reflection;

namespace MindJourney.Api.Infrastructure;

/// <summary>
/// Request validation, set once on a route group: before a handler runs, its arguments are checked against the
/// rules they declare (DataAnnotations attributes on a request record's properties or on a handler's parameter,
/// <see cref="IValidatableObject"/> for a rule across fields). The first broken rule is the 400's detail, so a
/// handler meets only requests that keep them. Absent optional values (null) have nothing to check.
/// </summary>
public static class RequestValidation
{
    public static TBuilder WithRequestValidation<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilterFactory(static (context, next) =>
        {
            var rules = Array.ConvertAll(context.MethodInfo.GetParameters(), Rules.Of);
            if (Array.TrueForAll(rules, rule => rule is null))
            {
                return next;
            }

            return invocation =>
            {
                for (var i = 0; i < rules.Length; i++)
                {
                    if (rules[i]?.Problem(invocation.Arguments[i], invocation.HttpContext.RequestServices) is { } detail)
                    {
                        return ValueTask.FromResult<object?>(Problems.BadRequest(detail));
                    }
                }

                return next(invocation);
            };
        });

    /// <summary>Null when <paramref name="request"/> keeps its record's rules, else the first it breaks: for a body
    /// the handler reads itself.</summary>
    public static string? Problem(object request, IServiceProvider? services = null) =>
        new Rules(request.GetType().Name, [], RecordRules.Of(request.GetType())).Problem(request, services);

    /// <summary>What one parameter declares: attributes on the parameter, and the rules of its type's properties.</summary>
    private sealed record Rules(string Name, ValidationAttribute[] Attributes, RecordRules? Record)
    {
        public static Rules? Of(ParameterInfo parameter)
        {
            var attributes = RequiredFirst(parameter.GetCustomAttributes<ValidationAttribute>());
            var record = RecordRules.Of(parameter.ParameterType);
            return attributes.Length > 0 || record is not null ? new Rules(parameter.Name!, attributes, record) : null;
        }

        public string? Problem(object? value, IServiceProvider? services)
        {
            if (value is null)
            {
                return null;
            }

            // One context for the whole check, renamed for each member: DataAnnotations' Validator made one per
            // property, and a list, an iterator and a lookup besides, for every request (a fifth of an answer's
            // allocations).
            var context = new ValidationContext(value, services, items: null) { DisplayName = Name, MemberName = Name };
            return FirstBroken(Attributes, value, context)
                ?? Record?.Problem(value, context)
                ?? (value is IValidatableObject validatable
                    ? validatable.Validate(new ValidationContext(value, services, items: null)).FirstOrDefault()?.ErrorMessage
                    : null);
        }
    }

    /// <summary>A record type's properties with rules, each read by a compiled getter, found once per type. Checked as
    /// <see cref="Validator.TryValidateObject(object, ValidationContext, ICollection{ValidationResult}, bool)"/> does
    /// with all properties: in declaration order, <see cref="RequiredAttribute"/> before a property's other rules.</summary>
    private sealed class RecordRules(RecordRules.Member[] members)
    {
        private static readonly System.Collections.Concurrent.ConcurrentDictionary<Type, RecordRules?> Known = new();

        public sealed record Member(string Name, Func<object, object?> Read, ValidationAttribute[] Attributes);

        public static RecordRules? Of(Type type) => Known.GetOrAdd(type, static type =>
        {
            var members = type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
                .Where(property => property.CanRead && property.GetIndexParameters().Length == 0)
                .Select(property => new Member(property.Name, property.GetValue,
                    RequiredFirst(property.GetCustomAttributes<ValidationAttribute>())))
                .Where(member => member.Attributes.Length > 0)
                .ToArray();
            return members.Length > 0 || typeof(IValidatableObject).IsAssignableFrom(type) ? new RecordRules(members) : null;
        });

        public string? Problem(object value, ValidationContext context)
        {
            foreach (var member in members)
            {
                context.MemberName = member.Name;
                context.DisplayName = member.Name;
                if (FirstBroken(member.Attributes, member.Read(value), context) is { } problem)
                {
                    return problem;
                }
            }

            return null;
        }
    }

    private static ValidationAttribute[] RequiredFirst(IEnumerable<ValidationAttribute> attributes) =>
        [.. attributes.OrderBy(attribute => attribute is RequiredAttribute ? 0 : 1)];

    private static string? FirstBroken(ValidationAttribute[] attributes, object? value, ValidationContext context)
    {
        foreach (var attribute in attributes)
        {
            if (attribute.GetValidationResult(value, context) is { } broken && broken != ValidationResult.Success)
            {
                return broken.ErrorMessage ?? $"{context.DisplayName} is not valid.";
            }
        }

        return null;
    }
}
